import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveTestApp, type ServedTestApp } from '../api-test-kit.test-support.ts';

const MiB = 1024 * 1024;

describe('a refused request whose body was not read', () => {
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp();
  });
  afterAll(() => served.close());

  it('gets its answer, then the API reads none of the body and closes the connection instead of reading 64 MiB to the end', async () => {
    const socket = connect(served.port, '127.0.0.1');
    const total = 64 * MiB;
    socket.write(`POST /v1/jobs/chat/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer all-key-0123456789\r\nContent-Length: ${total}\r\n\r\n`);
    // Hands the body to the socket as fast as the server takes it.
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let written = 0;
    const pump = () => {
      while (written < total && !socket.destroyed) {
        written += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    socket.on('error', () => undefined); // the close may come as a reset while the client still writes
    let answer = '';
    const answered = new Promise<void>((resolve) => socket.on('data', (d: Buffer) => ((answer += d.toString('latin1')), answer.includes('}') && resolve())));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
    pump();
    await answered;
    const answeredAt = performance.now();
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"code":"PAYLOAD_TOO_LARGE"');
    // Nothing more is taken once the answer is out: what the client could write fits the socket buffers.
    await new Promise((r) => setTimeout(r, 1_000));
    const takenAfterOneSecond = written;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(written).toBe(takenAfterOneSecond);
    expect(written).toBeLessThan(total / 2);
    // ... and the connection is closed after the grace that lets the client read its answer.
    const closedAt = await closed;
    expect(closedAt - answeredAt).toBeGreaterThan(2_000);
    expect(closedAt - answeredAt).toBeLessThan(8_000);
  }, 15_000);

  it('keeps the connection of a small refused body, read to its end as before', async () => {
    const res = await served.post('/v1/jobs/chat/batch', ['{"jobs": 5}'], {});
    expect(res.status).toBe(400);
  });
});
