// Preloaded (node --require) by test/cli/relaunch.test.ts: stands in for process.execve (Node 22.15+) on any Node,
// printing what the CLI asked to replace itself with instead of doing it, or refusing like a sandbox would when
// FAKE_EXECVE_REFUSES is set.
'use strict';
process.execve = (file, args) => {
  if (process.env.FAKE_EXECVE_REFUSES)
    throw Object.assign(new Error('execve: operation not permitted'), { code: 'EPERM' });
  process.stdout.write(JSON.stringify({ file, args }));
  process.exit(0);
};
