import { describe, expect, it } from 'vitest';
import { restoreRequestSchema, type VaultRef } from '../../../src/core/restore/restore-request';

const vaults: VaultRef[] = [
  { name: 'prod', url: 'https://prod.vault.azure.net/' },
  { name: 'dr', url: 'https://dr.vault.azure.net/' },
];
const schema = restoreRequestSchema({
  resolveVault: (text) =>
    vaults.find((v) => v.name === text.toLowerCase() || v.url === (text.endsWith('/') ? text : `${text}/`)),
  now: new Date('2025-03-01T00:00:00Z'),
});

function fieldOf(body: unknown): { field: string; message: string } | undefined {
  const parsed = schema.safeParse(body);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  return { field: issue.path.join('.') || '(body)', message: issue.message };
}

describe('restore request schema', () => {
  it('accepts a minimal body and fills the defaults', () => {
    expect(schema.parse({ vault: 'prod' })).toEqual({
      source: vaults[0],
      target: vaults[0],
      onConflict: 'fail',
      dryRun: false,
    });
  });

  it('resolves vaults by URL or name and normalises asOf to UTC', () => {
    const request = schema.parse({
      vault: 'https://prod.vault.azure.net',
      targetVault: 'DR',
      objectType: 'key',
      name: 'db-key',
      asOf: '2025-02-01T12:00:00+02:00',
      onConflict: 'purge',
      dryRun: true,
    });
    expect(request).toMatchObject({
      source: vaults[0],
      target: vaults[1],
      asOf: '2025-02-01T10:00:00.000Z',
      onConflict: 'purge',
      dryRun: true,
    });
  });

  const badBodies: [string, unknown, string][] = [
    ['vault missing', {}, 'vault'],
    ['vault of the wrong type', { vault: 42 }, 'vault'],
    ['vault empty', { vault: ' ' }, 'vault'],
    ['vault not configured', { vault: 'elsewhere' }, 'vault'],
    ['vault a broken URL', { vault: 'https://exa mple.vault.azure.net/' }, 'vault'],
    ['vault an unconfigured URL', { vault: 'https://other.vault.azure.net/' }, 'vault'],
    ['targetVault not configured', { vault: 'prod', targetVault: 'nowhere' }, 'targetVault'],
    ['unknown field', { vault: 'prod', overwrite: true }, 'overwrite'],
    ['objectType unknown', { vault: 'prod', objectType: 'keys' }, 'objectType'],
    ['name with a space', { vault: 'prod', name: 'db key' }, 'name'],
    ['name with an underscore', { vault: 'prod', name: 'db_key' }, 'name'],
    ['name too long', { vault: 'prod', name: 'a'.repeat(128) }, 'name'],
    ['name empty', { vault: 'prod', name: '' }, 'name'],
    ['asOf not a time', { vault: 'prod', asOf: 'yesterday' }, 'asOf'],
    ['asOf without a zone', { vault: 'prod', asOf: '2025-01-01T00:00:00' }, 'asOf'],
    ['asOf in the future', { vault: 'prod', asOf: '2025-03-02T00:00:00Z' }, 'asOf'],
    [
      'asOf together with backup',
      { vault: 'prod', asOf: '2025-01-01T00:00:00Z', backup: 'backups/prod/key/a/1-x.kvbak' },
      'asOf',
    ],
    ['backup escaping its folder', { vault: 'prod', backup: 'backups/../runs/x' }, 'backup'],
    ['onConflict unknown', { vault: 'prod', onConflict: 'overwrite' }, 'onConflict'],
    ['dryRun as text', { vault: 'prod', dryRun: 'yes' }, 'dryRun'],
    ['body an array', [{ vault: 'prod' }], '(body)'],
  ];

  it.each(badBodies)('refuses %s, naming the field', (_label, body, field) => {
    const problem = fieldOf(body);
    expect(problem?.field).toBe(field);
    expect(problem?.message.length).toBeGreaterThan(5);
  });

  it('accepts an asOf a few seconds ahead (client clock skew) as a past instant', () => {
    expect(schema.parse({ vault: 'prod', asOf: '2025-03-01T00:00:30Z' }).asOf).toBe('2025-03-01T00:00:30.000Z');
  });
});
