// Preloaded (node --require) by test/cli/relaunch.test.ts: stands in for process.execve (Node 22.15+) on any Node,
// printing what the CLI asked to replace itself with instead of doing it.
'use strict';
process.execve = (file, args) => {
  process.stdout.write(JSON.stringify({ file, args }));
  process.exit(0);
};
