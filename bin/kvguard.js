#!/usr/bin/env node
'use strict';
// In a checkout (sources present and tsx installed as a devDependency) the CLI runs the TypeScript sources, so
// `npx kvguard` is never a stale build; the package ships compiled JavaScript only and runs dist/.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// V8 sizes its young generation when the process starts, and at its default (up to 16 MiB a half) a long backup
// run grew it to the largest part of the CLI's memory, growing with the vault (167.7 MiB peak RSS at 10,000 objects,
// 132.2 MiB with 2 MiB; `npm run bench`). The flag cannot be set from inside (v8.setFlagsFromString
// has no effect on it) and `#!/usr/bin/env -S node ...` fails where env has no -S (BusyBox, so Alpine), so the CLI
// replaces itself with a node process that has the flags, where Node can (process.execve: Node 22.15 and later,
// not Windows). Elsewhere it runs as it is; NODE_OPTIONS=--max-semi-space-size=2 gives the same.
const v8Flags = require('./v8-flags.json');
const hasFlags = v8Flags.every((flag) => process.execArgv.includes(flag));
if (!hasFlags && typeof process.execve === 'function' && process.platform !== 'win32') {
  try {
    process.execve(
      process.execPath,
      [process.execPath, ...v8Flags, ...process.execArgv, __filename, ...process.argv.slice(2)],
      process.env,
    );
  } catch {
    // Not replaced (the call refused, e.g. by a sandbox): run as it is, with V8's defaults.
  }
}

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
