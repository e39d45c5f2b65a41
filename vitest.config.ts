import { configDefaults, defineConfig } from 'vitest/config';

// Two projects: fast unit tests beside the code (plus test/lint/, which checks the tree's layers and
// imports), and the privileged suites that drive the real sandbox (bwrap namespaces, cgroups, the
// built CLI). The latter need `npm run build` first.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/lint/**/*.test.ts'],
          environment: 'node',
          // Projects with different worker counts must run in distinct groups: unit tests first.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'system',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/lint/**'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // The escape battery spawns many sandboxes; two cores here, so keep files in parallel modest.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
    ],
  },
});
