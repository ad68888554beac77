import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const tag = `planted-${process.pid}`;

/** One planted violation per rule: a temporary module in the real tree, and the rule it must trip. */
const plants: { rule: string; file: string; source: string }[] = [
  { rule: 'core-has-no-azure', file: `src/core/${tag}-azure.ts`, source: "import '@azure/storage-blob';\n" },
  { rule: 'core-is-innermost', file: `src/core/${tag}-inner.ts`, source: "import '../adapters/storage-errors';\n" },
  {
    rule: 'adapters-do-not-import-entry-points',
    file: `src/adapters/${tag}-entry.ts`,
    source: "import '../functions/status';\n",
  },
  {
    rule: 'functions-do-not-import-adapters',
    file: `src/functions/${tag}-adapter.ts`,
    source: "import '../adapters/storage-errors';\n",
  },
  { rule: 'production-never-imports-dev', file: `src/${tag}-dev.ts`, source: "import '../dev/emulator/clients';\n" },
  { rule: 'no-circular', file: `src/${tag}-circle-a.ts`, source: `import './${tag}-circle-b';\n` },
  { rule: 'no-circular', file: `src/${tag}-circle-b.ts`, source: `import './${tag}-circle-a';\n` },
  { rule: 'not-to-dev-dep', file: `src/${tag}-dev-dep.ts`, source: "import 'vitest';\n" },
  // tslib is installed (as a dependency of the Azure SDKs) but kvguard does not declare it.
  { rule: 'no-non-package-json', file: `src/${tag}-undeclared.ts`, source: "import 'tslib';\n" },
  { rule: 'not-to-unresolvable', file: `src/${tag}-unresolvable.ts`, source: "import './no-such-module';\n" },
  { rule: 'no-orphans', file: `src/${tag}-orphan.ts`, source: 'export const nobodyImportsThis = 1;\n' },
];

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

let violations: Violation[];

beforeAll(async () => {
  for (const plant of plants) writeFileSync(join(root, plant.file), plant.source);
  try {
    // One depcruise run over every planted module; it exits non-zero because of them, so read its JSON either way.
    const output = await promisify(execFile)(
      process.execPath,
      [
        join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
        '--config',
        '.dependency-cruiser.cjs',
        '--output-type',
        'json',
        ...plants.map((p) => p.file),
      ],
      { cwd: root, maxBuffer: 64 * 1024 * 1024 },
    ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    violations = (JSON.parse(output.stdout) as { summary: { violations: Violation[] } }).summary.violations;
  } finally {
    for (const plant of plants) rmSync(join(root, plant.file), { force: true });
  }
}, 120_000);

afterAll(() => {
  for (const plant of plants) rmSync(join(root, plant.file), { force: true });
});

describe('dependency-cruiser rules fire on a planted violation', () => {
  it.each(plants.filter((p, i) => plants.findIndex((q) => q.rule === p.rule) === i))('$rule', ({ rule, file }) => {
    expect(violations.filter((v) => v.rule.name === rule).map((v) => v.from)).toContain(file);
  });

  it('reports nothing but the planted modules', () => {
    const planted = new Set(plants.map((p) => p.file));
    expect(violations.filter((v) => !planted.has(v.from))).toEqual([]);
  });
});
