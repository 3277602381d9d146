import { describe, expect, it } from 'vitest';
import { deliveryLosses, duplicateBound, FAULT_LOG } from './helpers/fault-evidence.ts';
import { spawnNode } from './helpers/spawn-process.ts';

describe('fault evidence from process logs', () => {
  it('counts JSON log lines by msg over the whole output, across chunk boundaries and on both streams', async () => {
    const script = `
      const line = (msg) => JSON.stringify({ level: 40, msg }) + '\\n';
      const d = line(${JSON.stringify(FAULT_LOG.disconnected)});
      process.stdout.write(d.slice(0, 10));
      setTimeout(() => {
        process.stdout.write(d.slice(10) + line(${JSON.stringify(FAULT_LOG.connected)}) + 'not json ${FAULT_LOG.disconnected}\\n');
        process.stderr.write(line(${JSON.stringify(FAULT_LOG.disconnected)}) + line(${JSON.stringify(FAULT_LOG.consumerChannelLost)}));
      }, 50);
    `;
    const p = spawnNode({ name: 'logger', args: ['-e', script] });
    await p.exited;
    expect(p.logCount(FAULT_LOG.disconnected)).toBe(2);
    expect(p.logCount(FAULT_LOG.connected)).toBe(1);
    expect(p.logCount('never printed')).toBe(0);
    // A lost connection and a lost consumer channel each hand a worker's unacked deliveries back.
    expect(deliveryLosses([p])).toBe(3);
    expect(duplicateBound({ unknownOutcomes: 4, prefetch: 50, deliveryLosses: 3 })).toBe(154);
  });
});
