/**
 * Layering rules (the core knows no Azure SDK, adapters never reach up into functions, production never imports dev/)
 * and package hygiene (src/ uses no devDependency, every import resolves to a file or a declared package, no module
 * is left orphaned). Each rule is proven to fire by test/layering.test.ts.
 */
module.exports = {
  forbidden: [
    {
      name: 'core-has-no-azure',
      comment: 'src/core holds use cases and ports only; the Azure SDKs belong in src/adapters.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '(^|/)node_modules/@azure/' },
    },
    {
      name: 'core-is-innermost',
      comment: 'src/core must not depend on adapters, functions, the CLI or the composition root.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(adapters|functions|cli|composition|index|config)' },
    },
    {
      name: 'adapters-do-not-import-entry-points',
      comment: 'Adapters are called by use cases through ports; they never import functions or the CLI.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(functions|cli|index)' },
    },
    {
      name: 'functions-do-not-import-adapters',
      comment: 'Function files parse, authorise, call a use case and map the result; wiring is in src/composition.',
      severity: 'error',
      from: { path: '^src/functions/' },
      to: { path: '^src/adapters/' },
    },
    {
      name: 'production-never-imports-dev',
      comment: 'The local stack (emulator, dev host, Azurite launcher) is not shipped.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(dev|test|bench)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-dev-dep',
      comment: 'The Function App installs dependencies only: src/ must not need a devDependency at run time.',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-non-package-json',
      comment:
        'A package that is only there as some dependency of a dependency can vanish: declare it in package.json.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves to a file or an installed package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-orphans',
      comment:
        'A module nothing imports and that imports nothing is dead code (type declarations, and the test preloads that node --require loads by path, excepted).',
      severity: 'error',
      from: { orphan: true, pathNot: ['\\.d\\.ts$', '^test/support/[^/]+\\.cjs$'] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Only the project's own build output: `(^|/)dist/` would also drop node_modules/@azure/*/dist/..., and with
    // it every edge core-has-no-azure looks for.
    exclude: { path: '^dist/' },
  },
};
