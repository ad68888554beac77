/** Layering rules: the core knows no Azure SDK, adapters never reach up into functions, production never imports dev/. */
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
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '(^|/)dist/' },
  },
};
