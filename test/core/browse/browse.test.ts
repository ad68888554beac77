import { policyTestSettings } from '../../support/back-up-now';
import { describe, expect, it } from 'vitest';
import type { BackupSettings } from '../../../src/core/backup/backup-vault';
import { backupVaultNow } from '../../../src/core/backup/runs';
import { diffVault, showRestorePoint, type BrowseDependencies } from '../../../src/core/browse/compare';
import type { VaultTarget } from '../../../src/core/domain';
import {
  InMemoryBackupStore,
  InMemoryInventoryStore,
  InMemoryVaultFactory,
  ManualClock,
  RecordingLogger,
  RecordingTelemetry,
  RecordingAlerts,
} from '../../support/in-memory';

const settings: BackupSettings = { ...policyTestSettings };
const HOUR_MS = 3_600_000;

function world() {
  const clock = new ManualClock('2026-11-01T00:00:00.000Z');
  const factory = new InMemoryVaultFactory();
  const vault = factory.create('contoso', { clock });
  const store = new InMemoryBackupStore();
  const inventory = new InMemoryInventoryStore();
  const logger = new RecordingLogger();
  const deps = {
    vaults: factory,
    store,
    inventory,
    alerts: new RecordingAlerts(),
    telemetry: new RecordingTelemetry(),
    logger,
    clock,
  };
  const target: VaultTarget = {
    url: vault.url,
    name: vault.name,
    types: ['key', 'secret', 'certificate'],
    critical: { kind: 'all' },
  };
  const browse: BrowseDependencies = deps;
  const backUp = async () => {
    const summary = await backupVaultNow(target, deps, settings);
    expect(summary.succeeded).toBe(true);
    clock.advance(HOUR_MS);
    return summary;
  };
  return { clock, vault, store, inventory, deps, browse, target, backUp, logger };
}

describe('kvguard show: a restore point', () => {
  it('lists each object with its versions, tags, content type and backup hash, never a value', async () => {
    const { vault, browse, target, backUp, clock } = world();
    vault.seedKey('signing', { versions: 2, tags: { owner: 'team-a' } });
    vault.seedSecret('db-password', { contentType: 'text/plain' });
    vault.seedCertificate('web');
    await backUp();
    const point = await showRestorePoint(browse, target, clock.now());
    expect(point.basis).toBe('run');
    expect(point.objects.map((o) => `${o.type}/${o.name}`)).toEqual([
      'key/signing',
      'secret/db-password',
      'certificate/web',
    ]);
    const [signing, secret] = point.objects;
    expect(signing!.versions!.map((v) => v.version).sort()).toEqual(
      vault
        .inspect('key', 'signing')!
        .versions.map((v) => v.version)
        .sort(),
    );
    expect(signing!.tags).toEqual({ owner: 'team-a' });
    expect(signing!.backup!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(secret!.contentType).toBe('text/plain');
    expect(JSON.stringify(point)).not.toContain('KVFAKE1');
  });

  it('as of an earlier instant shows what the vault held then, not what was added later', async () => {
    const { vault, browse, target, backUp } = world();
    vault.seedKey('old');
    const first = await backUp();
    vault.seedKey('new');
    await backUp();
    const then = await showRestorePoint(browse, target, new Date(first.finishedAt));
    expect(then.runId).toBe(first.runId);
    expect(then.objects.map((o) => o.name)).toEqual(['old']);
  });
});

describe('kvguard diff', () => {
  it('names objects added and deleted, versions added, and attributes and tags changed between restore points', async () => {
    const { vault, browse, target, backUp } = world();
    vault
      .seedKey('rotating')
      .seedKey('tagged', { tags: { env: 'dev' } })
      .seedSecret('doomed')
      .seedSecret('same');
    const before = await backUp();
    vault.addVersion('key', 'rotating');
    vault.setTags('key', 'tagged', { env: 'prod' });
    await vault.delete('secret', 'doomed');
    vault.seedKey('fresh');
    await backUp();

    const diff = await diffVault(browse, target, { asOf: before.finishedAt });
    expect(diff.added).toEqual([{ type: 'key', name: 'fresh', versions: 1 }]);
    expect(diff.deleted).toEqual([{ type: 'secret', name: 'doomed', versions: 1 }]);
    const byName = Object.fromEntries(diff.changed.map((c) => [c.name, c]));
    expect(byName.rotating!.versionsAdded).toHaveLength(1);
    expect(byName.tagged!.changes).toEqual([
      { version: vault.inspect('key', 'tagged')!.versions[0]!.version, field: 'tag:env', from: 'dev', to: 'prod' },
    ]);
    expect(diff.unchanged).toBe(1);
  });

  it('compares with the live vault without backing anything up', async () => {
    const { vault, store, browse, target, backUp } = world();
    vault.seedKey('k').seedSecret('s');
    const before = await backUp();
    vault.seedKey('added-since');
    await vault.delete('secret', 's');
    const stored = store.records().length;
    const diff = await diffVault(browse, target, { asOf: before.finishedAt, live: true });
    expect(diff.to.basis).toBe('live');
    expect(diff.added.map((o) => o.name)).toEqual(['added-since']);
    expect(diff.deleted.map((o) => o.name)).toEqual(['s']);
    expect(diff.changed).toEqual([]);
    expect(store.records()).toHaveLength(stored);
  });

  it('refuses to and live together, and a to before asOf, naming the field', async () => {
    const { browse, target } = world();
    await expect(
      diffVault(browse, target, { asOf: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z', live: true }),
    ).rejects.toMatchObject({ code: 'ValidationError', field: 'to' });
    await expect(
      diffVault(browse, target, { asOf: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' }),
    ).rejects.toMatchObject({ code: 'ValidationError', field: 'to' });
  });

  it('still backs up when the inventory cannot be written, and says so in the log', async () => {
    const { vault, inventory, store, backUp, logger } = world();
    vault.seedKey('k');
    inventory.putInventory = async () => {
      throw new Error('storage hiccup');
    };
    await backUp();
    expect(store.records()).toHaveLength(1);
    expect(logger.text()).toContain('backup inventory could not be recorded');
  });
});
