import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingsTable } from '../src/config';

const root = join(__dirname, '..');

describe('every setting kvguard reads is documented', () => {
  const names = settingsTable().map((row) => row.name);

  it('in local.settings.sample.json', () => {
    const sample = JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as {
      Values: Record<string, string>;
    };
    expect(names.filter((name) => !(name in sample.Values))).toEqual([]);
  });

  it("in the README's configuration table", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(names.filter((name) => !readme.includes(`| \`${name}\` |`))).toEqual([]);
  });
});
