import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { restoreRequestSchema, type VaultRef } from '../../../src/core/restore/restore-request';

const base = { KVGUARD_STORAGE: 'UseDevelopmentStorage=true' };
const vaults = (entries: object[]) => JSON.stringify(entries);

describe('portable export settings', () => {
  it('are off by default: no vault is portable and no KEK is needed', () => {
    const config = loadConfig({ ...base, KVGUARD_VAULTS: 'https://prod.vault.azure.net/' });
    expect(config.vaults[0]!.portable).toBeUndefined();
    expect(config.portableKek).toBeUndefined();
  });

  it('turn on per vault with a KEK in another vault', () => {
    const config = loadConfig({
      ...base,
      KVGUARD_VAULTS: vaults([
        { url: 'https://prod.vault.azure.net/', portable: true },
        { url: 'https://dev.vault.azure.net/' },
      ]),
      KVGUARD_PORTABLE_KEK: 'https://kek-us.vault.azure.net/keys/kvguard-kek',
    });
    expect(config.vaults.map((v) => [v.name, v.portable ?? false])).toEqual([
      ['prod', true],
      ['dev', false],
    ]);
  });

  it('refuse a portable vault without a KEK, a KEK inside a portable vault, and a KEK that is no key id', () => {
    const portable = vaults([{ url: 'https://prod.vault.azure.net/', portable: true }]);
    expect(() => loadConfig({ ...base, KVGUARD_VAULTS: portable })).toThrow(/KVGUARD_PORTABLE_KEK is not set/);
    expect(() =>
      loadConfig({ ...base, KVGUARD_VAULTS: portable, KVGUARD_PORTABLE_KEK: 'https://prod.vault.azure.net/keys/kek' }),
    ).toThrow(/is in vault prod, whose portable exports it protects/);
    expect(() =>
      loadConfig({
        ...base,
        KVGUARD_VAULTS: portable,
        KVGUARD_PORTABLE_KEK: 'https://kek.vault.azure.net/secrets/kek',
      }),
    ).toThrow(/KVGUARD_PORTABLE_KEK="https:\/\/kek.vault.azure.net\/secrets\/kek" must be a Key Vault key id/);
  });
});

describe('portable restore requests', () => {
  const refs: VaultRef[] = [
    { name: 'prod', url: 'https://prod.vault.azure.net/' },
    { name: 'far', url: 'https://far.vault.azure.net/' },
  ];
  const schema = restoreRequestSchema({ resolveVault: (t) => refs.find((v) => v.name === t), now: new Date() });
  const issue = (body: object) => {
    const parsed = schema.safeParse(body);
    return parsed.success
      ? undefined
      : { field: parsed.error.issues[0]!.path.join('.'), message: parsed.error.issues[0]!.message };
  };

  it('accept format portable with targetName for one object', () => {
    expect(
      schema.parse({ vault: 'prod', targetVault: 'far', format: 'portable', name: 'db', targetName: 'db-copy' }),
    ).toMatchObject({ format: 'portable', name: 'db', targetName: 'db-copy', target: refs[1] });
    expect(schema.parse({ vault: 'prod' })).not.toHaveProperty('format');
  });

  it('refuse targetName on an opaque restore or without name, a backup blob with portable, and an unknown format', () => {
    expect(issue({ vault: 'prod', name: 'db', targetName: 'x' })).toMatchObject({
      field: 'targetName',
      message: expect.stringContaining("needs format 'portable'"),
    });
    expect(issue({ vault: 'prod', format: 'portable', targetName: 'x' })).toMatchObject({
      field: 'targetName',
      message: expect.stringContaining('needs name'),
    });
    expect(issue({ vault: 'prod', format: 'portable', backup: 'backups/prod/x' })).toMatchObject({ field: 'backup' });
    expect(issue({ vault: 'prod', format: 'zip' })).toMatchObject({
      field: 'format',
      message: expect.stringContaining("'portable'"),
    });
    expect(issue({ vault: 'prod', format: 'portable', name: 'db', targetName: 'bad name!' })).toMatchObject({
      field: 'targetName',
    });
  });
});
