#!/usr/bin/env node
'use strict';
// Runs the CLI from the TypeScript sources via tsx in a checkout (never a stale build), else from the built output.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const source = join(__dirname, '..', 'src', 'cli', 'main.ts');
let entry = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (existsSync(source)) {
  require('tsx/cjs');
  entry = source;
}
require(entry).runCli(process.argv);
