import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { KvGuardError } from '../src/core/errors';

const base = { KVGUARD_STORAGE: 'UseDevelopmentStorage=true' };

function vaults(entries: unknown[], env: Record<string, string> = {}) {
  return loadConfig({ ...base, ...env, KVGUARD_VAULTS: JSON.stringify(entries) }).vaults;
}

function refusal(entries: unknown[], env: Record<string, string> = {}): string {
  try {
    vaults(entries, env);
  } catch (error) {
    if (error instanceof KvGuardError && error.code === 'InvalidConfiguration') return error.message;
    throw error;
  }
  throw new Error('configuration was accepted');
}

describe('vault policies in KVGUARD_VAULTS', () => {
  it('reads every policy field of a vault entry', () => {
    const [vault] = vaults([
      {
        url: 'https://prod.vault.azure.net/',
        include: ['app-*', 'tag:backup=yes'],
        exclude: ['secret/tmp-*', 'contentType:text/*'],
        paused: true,
        schedule: '0 0 2 * * *',
        rpoHours: 30,
        retention: { keepDays: 30, keepLast: 3, keepDeletedDays: 180 },
        resourceId: '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/prod',
      },
    ]);
    expect(vault!.resourceId).toBe('/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/prod');
    expect(vault!.policy).toEqual({
      include: [
        { kind: 'name', pattern: 'app-*' },
        { kind: 'tag', tag: 'backup', value: 'yes' },
      ],
      exclude: [
        { kind: 'name', type: 'secret', pattern: 'tmp-*' },
        { kind: 'contentType', pattern: 'text/*' },
      ],
      paused: true,
      schedule: '0 0 2 * * *',
      rpoHours: 30,
      retention: { keepDays: 30, keepLast: 3, keepDeletedDays: 180 },
      // keepDays 30 is tighter than the 90-day WORM window: refresh 30 h + 1 d early.
      refreshAfterDays: 30 - (30 / 24 + 1),
    });
  });

  it('takes each missing field from the default settings, and an entry field wins over its default', () => {
    const env = {
      KVGUARD_EXCLUDE: 'secret/tmp-*, tag:backup=no',
      KVGUARD_PAUSED: 'true',
      KVGUARD_KEEP_LAST: '5',
      KVGUARD_KEEP_DAYS: '14',
      KVGUARD_RPO_HOURS: '12',
    };
    const [plain, own] = vaults(
      [
        { url: 'https://a.vault.azure.net/' },
        { url: 'https://b.vault.azure.net/', exclude: [], paused: false, retention: { keepLast: 2 } },
      ],
      env,
    );
    expect(plain!.policy).toMatchObject({
      exclude: [
        { kind: 'name', type: 'secret', pattern: 'tmp-*' },
        { kind: 'tag', tag: 'backup', value: 'no' },
      ],
      paused: true,
      rpoHours: 12,
      retention: { keepDays: 14, keepLast: 5 },
    });
    expect(own!.policy).toMatchObject({ exclude: [], paused: false, retention: { keepDays: 14, keepLast: 2 } });
  });

  it.each([
    [{ retention: { keepLast: 0 } }, '0.retention.keepLast'],
    [{ retention: { keepDays: 'thirty' } }, '0.retention.keepDays'],
    [{ retention: { keepForever: true } }, 'keepForever'],
    [{ exclude: ['secrets/tmp_*'] }, '0.exclude.0: "secrets/tmp_*" must be'],
    [{ exclude: ['blobs/tmp-*'] }, '0.exclude.0: "blobs/tmp-*" must be'],
    [{ include: 'tag:novalue' }, '0.include'],
    [{ paused: 'yes' }, '0.paused'],
    [{ schedule: '0 0 2 * *' }, '0.schedule: must be an NCRONTAB expression with six fields'],
    [{ schedule: '0 0 99 * * *' }, '0.schedule: must be an NCRONTAB expression with six fields (seconds first): '],
    [{ rpoHours: 0 }, '0.rpoHours'],
    [{ resourceId: '/subscriptions/x/vaults/y' }, '0.resourceId: must be a Key Vault resource id'],
  ])('refuses %j naming the field', (policy, field) => {
    const message = refusal([{ url: 'https://prod.vault.azure.net/', ...policy }]);
    expect(message).toContain('KVGUARD_VAULTS=');
    expect(message).toContain(field);
  });

  it.each([
    [{ KVGUARD_KEEP_LAST: '-1' }, 'KVGUARD_KEEP_LAST="-1"'],
    [{ KVGUARD_EXCLUDE: 'tag:' }, 'KVGUARD_EXCLUDE="tag:"'],
    [{ KVGUARD_PAUSED: 'maybe' }, 'KVGUARD_PAUSED="maybe"'],
  ])('refuses the default setting %j naming it', (env, message) => {
    expect(refusal([{ url: 'https://prod.vault.azure.net/' }], env)).toContain(message);
  });

  it('refreshes before the WORM window lapses even when only keepLast limits retention', () => {
    const [vault] = vaults([{ url: 'https://a.vault.azure.net/', retention: { keepLast: 3 } }]);
    // KVGUARD_RETENTION_DAYS (the WORM window) defaults to 90, so even keepLast alone refreshes before it lapses.
    expect(vault!.policy!.refreshAfterDays).toBe(88);
  });
});
