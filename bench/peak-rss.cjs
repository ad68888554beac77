// Preloaded (node --require) into a process the bench measures: on exit, writes the process's own peak resident
// memory (getrusage ru_maxrss, KiB on Linux) to the file named by BENCH_PEAK_RSS_FILE.
'use strict';
const { writeFileSync } = require('node:fs');
const file = process.env.BENCH_PEAK_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
