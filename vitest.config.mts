import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Timeouts detect hangs; they do not measure speed (the bench does). Integration tests start real servers and
    // child processes, which on 2 cores beside a CPU hog take three times as long as on a quiet machine.
    testTimeout: 180_000,
    hookTimeout: 180_000,
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
      // Just below what the suite reached (npm test on 2026-12-01: core 96 % lines, adapters 90 %, functions 84 %),
      // so a change that drops tests fails. src/cli is measured but not held: its tests run the CLI as a child
      // process, which V8 coverage of the test workers cannot see.
      thresholds: {
        'src/core/**': { lines: 93, statements: 92, branches: 83, functions: 92 },
        'src/adapters/**': { lines: 86, statements: 85, branches: 77, functions: 86 },
        'src/functions/**': { lines: 81, statements: 79, branches: 64, functions: 84 },
      },
    },
  },
});
