// Preloaded (node --require) into a process the bench measures: on exit, writes the process's own peak resident
// memory (getrusage ru_maxrss, KiB on Linux) and CPU time (user + system, ms) as JSON to BENCH_PEAK_RSS_FILE.
'use strict';
const { writeFileSync } = require('node:fs');
const file = process.env.BENCH_PEAK_RSS_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    const cpuMs = Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000);
    writeFileSync(file, JSON.stringify({ maxRssKiB: usage.maxRSS, cpuMs }));
  });
}
