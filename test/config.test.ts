import { describe, expect, it } from 'vitest';
import { createServices } from '../src/composition-adapters';
import { findVault, loadConfig, settingsTable } from '../src/config';
import { silentLogger } from '../src/core/ports';
import { KvGuardError } from '../src/core/errors';

const minimal = { KVGUARD_VAULTS: 'https://contoso.vault.azure.net', KVGUARD_STORAGE: 'UseDevelopmentStorage=true' };

function configError(env: Record<string, string>): KvGuardError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof KvGuardError) return error;
    throw error;
  }
  throw new Error('configuration was accepted');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(minimal);
    expect(config.vaults).toEqual([
      {
        url: 'https://contoso.vault.azure.net/',
        name: 'contoso',
        types: ['key', 'secret', 'certificate'],
        critical: { kind: 'all' },
        // Protect everything, never paused, keep forever; refresh before the 90-day WORM window less RPO and a day.
        policy: { include: [], exclude: [], paused: false, rpoHours: 24, retention: {}, refreshAfterDays: 88 },
      },
    ]);
    expect(config).toMatchObject({
      backupSchedule: '0 0 */6 * * *',
      container: 'kvguard-backups',
      rpoHours: 24,
      immutability: 'container',
    });
  });

  it('reads per-vault types, names and critical selectors from JSON', () => {
    const config = loadConfig({
      ...minimal,
      KVGUARD_VAULTS: JSON.stringify([
        { url: 'https://localhost:8443/', name: 'demo', types: ['keys'] },
        { url: 'https://prod.vault.azure.net/', critical: 'tag:kvguard=critical' },
      ]),
      KVGUARD_CRITICAL: 'names:db-*,api-?',
    });
    expect(config.vaults.map((v) => [v.name, v.types, v.critical])).toEqual([
      ['demo', ['key'], { kind: 'names', patterns: ['db-*', 'api-?'] }],
      ['prod', ['key', 'secret', 'certificate'], { kind: 'tag', tag: 'kvguard', value: 'critical' }],
    ]);
    expect(findVault(config, 'https://PROD.vault.azure.net')?.name).toBe('prod');
    expect(findVault(config, 'demo')?.url).toBe('https://localhost:8443/');
  });

  it.each([
    [{ KVGUARD_VAULTS: '' }, 'KVGUARD_VAULTS is required'],
    [{ KVGUARD_VAULTS: 'not a url' }, 'KVGUARD_VAULTS="not a url"'],
    [
      { KVGUARD_BACKUP_SCHEDULE: '0 */6 * * *' },
      'KVGUARD_BACKUP_SCHEDULE="0 */6 * * *" must be an NCRONTAB expression with six fields',
    ],
    [
      // six fields, but no minute 61: counting fields let this through; the dev host's parser (croner) does not
      { KVGUARD_DRILL_SCHEDULE: '0 61 * * * *' },
      'KVGUARD_DRILL_SCHEDULE="0 61 * * * *" must be an NCRONTAB expression with six fields (seconds first): Invalid value for minute: 61',
    ],
    [{ KVGUARD_OBJECT_TYPES: 'keys,blobs' }, 'KVGUARD_OBJECT_TYPES="keys,blobs"'],
    [{ KVGUARD_CRITICAL: 'tags=x' }, 'KVGUARD_CRITICAL="tags=x" must be \'all\''],
    [{ KVGUARD_RPO_HOURS: '-3' }, 'KVGUARD_RPO_HOURS="-3"'],
    [{ KVGUARD_CONTAINER: 'Bad_Name' }, 'KVGUARD_CONTAINER="Bad_Name" must be a valid container name'],
    [{ KVGUARD_STORAGE: '' }, 'KVGUARD_STORAGE or KVGUARD_STORAGE__blobServiceUri is required'],
    [
      { KVGUARD_STATE_CONTAINER: 'kvguard-backups' },
      'KVGUARD_STATE_CONTAINER="kvguard-backups" must differ from KVGUARD_CONTAINER',
    ],
  ])('refuses %j naming the setting and the value', (override, message) => {
    const error = configError({ ...minimal, ...override });
    expect(error.code).toBe('InvalidConfiguration');
    expect(error.message).toContain(message);
  });

  it('never echoes a secret setting', () => {
    const error = configError({ ...minimal, KVGUARD_ALERT_WEBHOOK_URL: 'ftp://hooks.example/secret-token-123' });
    expect(error.message).toContain('KVGUARD_ALERT_WEBHOOK_URL=(value hidden)');
    expect(error.message).not.toContain('secret-token-123');
  });

  it('refuses the same vault twice', () => {
    const error = configError({ ...minimal, KVGUARD_VAULTS: 'https://a.vault.azure.net, https://A.vault.azure.net/' });
    expect(error.message).toContain('names vault "a" twice');
  });

  it('documents every setting it reads', () => {
    const names = settingsTable().map((row) => row.name);
    expect(names).toContain('KVGUARD_VAULTS');
    expect(new Set(names).size).toBe(names.length);
    expect(settingsTable().every((row) => row.description.length > 10)).toBe(true);
  });
});

describe('resolveSettingReferences', () => {
  it('uses the app setting, else the documented default, and refuses an unknown reference', async () => {
    const { resolveSettingReferences } = await import('../src/config');
    expect(resolveSettingReferences('%KVGUARD_BACKUP_SCHEDULE%', { KVGUARD_BACKUP_SCHEDULE: '0 0 1 * * *' })).toBe(
      '0 0 1 * * *',
    );
    expect(resolveSettingReferences('%KVGUARD_BACKUP_SCHEDULE%', {})).toBe('0 0 */6 * * *');
    expect(resolveSettingReferences('%KVGUARD_BACKUP_QUEUE%', { KVGUARD_BACKUP_QUEUE: ' ' })).toBe(
      'kvguard-backup-jobs',
    );
    expect(() => resolveSettingReferences('%NOPE%', {})).toThrow(
      'NOPE (referenced as %NOPE%) is not set and has no default',
    );
  });
});

const azure = {
  KVGUARD_VAULTS: 'https://contoso.vault.azure.net',
  KVGUARD_STORAGE__blobServiceUri: 'https://stkvgbexample.blob.core.windows.net',
  AZURE_CLIENT_ID: '11111111-1111-1111-1111-111111111111',
};
const pruneClientId = '22222222-2222-2222-2222-222222222222';

describe('pruning settings', () => {
  it('are off by default, and then nothing can tag', () => {
    const config = loadConfig(azure);
    expect(config.pruning).toBe(false);
    expect(config.pruneClientId).toBeUndefined();
    expect(createServices(config, silentLogger).pruneMarks).toBeUndefined();
  });

  it('need the prune identity on identity-based storage, and refuse kvguard own identity as it', () => {
    const missing = configError({ ...azure, KVGUARD_PRUNING: 'true' });
    expect(missing).toMatchObject({ code: 'InvalidConfiguration', field: 'KVGUARD_PRUNE_CLIENT_ID' });
    expect(missing.message).toContain('KVGUARD_PRUNING=true');

    const same = configError({
      ...azure,
      KVGUARD_PRUNING: 'true',
      KVGUARD_PRUNE_CLIENT_ID: azure.AZURE_CLIENT_ID.toUpperCase(),
    });
    expect(same).toMatchObject({ field: 'KVGUARD_PRUNE_CLIENT_ID' });
    expect(same.message).toContain('must differ from AZURE_CLIENT_ID');

    const config = loadConfig({ ...azure, KVGUARD_PRUNING: 'true', KVGUARD_PRUNE_CLIENT_ID: pruneClientId });
    expect(config).toMatchObject({ pruning: true, pruneClientId });
    expect(createServices(config, silentLogger).pruneMarks).toBeDefined();
  });

  it('refuse a prune client id that is not a GUID, and a pruning switch that is not a boolean, naming them', () => {
    const badId = configError({ ...azure, KVGUARD_PRUNE_CLIENT_ID: 'id-kvguard-prune' });
    expect(badId).toMatchObject({ field: 'KVGUARD_PRUNE_CLIENT_ID' });
    expect(badId.message).toContain('KVGUARD_PRUNE_CLIENT_ID="id-kvguard-prune" must be a client id (GUID)');
    expect(configError({ ...azure, KVGUARD_PRUNING: 'yes' })).toMatchObject({ field: 'KVGUARD_PRUNING' });
  });
});
