import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** consumers/ import the package's public surface (`from 'warren'`): the sources under test, not dist/. */
const warrenSource = { alias: [{ find: /^warren$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) }] };

export default defineConfig({
  test: {
    projects: [
      {
        resolve: warrenSource,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'fake-llm/**/*.test.ts', 'consumers/**/*.test.ts', 'scripts/**/*.test.ts', 'bench/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        resolve: warrenSource,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.int.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Two cores: files run in parallel, each in its own vhost.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          // Some files spawn bin/warren.js, which runs dist/: built first when stale.
          globalSetup: ['test/helpers/build-global-setup.ts'],
        },
      },
      {
        resolve: warrenSource,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
