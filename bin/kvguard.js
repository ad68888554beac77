#!/usr/bin/env node
'use strict';
// In a checkout (sources present and tsx installed as a devDependency) the CLI runs the TypeScript sources, so
// `npx kvguard` is never a stale build; the package ships compiled JavaScript only and runs dist/.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const source = join(root, 'src', 'cli', 'main.ts');
const built = join(root, 'dist', 'src', 'cli', 'main.js');

/** tsx's CommonJS hook when it is installed, else undefined (a production install has no devDependencies). */
function typeScriptLoader() {
  try {
    return require.resolve('tsx/cjs', { paths: [root] });
  } catch {
    return undefined;
  }
}

const loader = existsSync(source) ? typeScriptLoader() : undefined;
if (loader) require(loader);
else if (!existsSync(built)) {
  process.stderr.write('kvguard: dist/ is missing; run `npm run build` (or `npm ci`, which installs tsx) first\n');
  process.exit(1);
}
require(loader ? source : built).runCli(process.argv);
