import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The failure suite, kept out of the default `vitest run` (it spawns processes and breaks things on purpose).
//   npx vitest run --config test/chaos/vitest.config.ts --project chaos     single broker (127.0.0.1:5672), CI
//   npx vitest run --config test/chaos/vitest.config.ts --project cluster   starts scripts/cluster.sh itself
const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  test: {
    root,
    projects: [
      {
        test: {
          name: 'chaos',
          root,
          include: ['test/chaos/**/*.chaos.test.ts'],
          environment: 'node',
          testTimeout: 90_000,
          hookTimeout: 120_000,
          // Scenarios measure timing and spawn several processes each: one file at a time on two cores.
          fileParallelism: false,
          globalSetup: ['test/helpers/build-global-setup.ts', 'test/chaos/helpers/report-global-setup.ts'],
        },
      },
      {
        test: {
          name: 'cluster',
          root,
          include: ['test/chaos/**/*.cluster.test.ts'],
          environment: 'node',
          // Generous: in `npm test` the cluster suite runs at the lowest CPU priority beside the single-node one
          // (broker-restart took 180 s there, 110 s alone).
          testTimeout: 360_000,
          hookTimeout: 240_000,
          fileParallelism: false,
          globalSetup: ['test/helpers/build-global-setup.ts', 'test/chaos/helpers/report-global-setup.ts', 'test/chaos/helpers/cluster-global-setup.ts'],
        },
      },
    ],
  },
});
