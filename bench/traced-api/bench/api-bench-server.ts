/**
 * The API bench's `warren` server with tracing on, as a "baseline checkout" so the API bench measures
 * tracing on against tracing off in the same run, alternating rounds:
 *   WARREN_BENCH_BASELINE=bench/traced-api node --import tsx bench/api-bench.ts   (the `warren-base` side)
 * Spans go over OTLP/HTTP to a receiver in another process that drops them (its CPU is not the server's).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const receiver = spawn(
  process.execPath,
  ['-e', "const s=require('node:http').createServer((q,r)=>{q.resume();q.on('end',()=>r.writeHead(200,{'content-type':'application/json'}).end('{}'))});s.listen(0,'127.0.0.1',()=>console.log(s.address().port))"],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
process.on('exit', () => receiver.kill());
const port = (await createInterface({ input: receiver.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]().next()).value as string;
process.env.BENCH_OTLP_ENDPOINT = `http://127.0.0.1:${port.trim()}`;
// Run the real bench server as if it had been started directly (its entry check compares argv[1]).
process.argv[1] = fileURLToPath(new URL('../../api-bench-server.ts', import.meta.url));
await import('../../api-bench-server.ts');
