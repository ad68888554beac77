import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers (emulator, Azurite); give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // Collected when asked (`vitest run --coverage`, as `npm test` does): the production code under src/ is what
    // counts; dev/ (emulator, dev host) and the tests themselves are tools, not the product.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
      // A run with a failing test still says how much it covered.
      reportOnFailure: true,
      thresholds: {},
    },
  },
});
