import { policyTestSettings } from '../../support/back-up-now';
import { describe, expect, it } from 'vitest';
import { backupVaultNow } from '../../../src/core/backup/runs';
import type { BackupSettings } from '../../../src/core/backup/backup-vault';
import { isSelectedByPolicy } from '../../../src/core/backup/selection';
import { alertRpoBreaches, vaultStatuses } from '../../../src/core/backup/status';
import type { ObjectSummary, VaultPolicy, VaultTarget } from '../../../src/core/domain';
import { pauseState, type VaultTagReader } from '../../../src/core/policy/pause';
import { isDueOnTick, vaultsDueOnTick } from '../../../src/core/policy/schedule';
import {
  InMemoryBackupStore,
  InMemoryVaultFactory,
  ManualClock,
  RecordingLogger,
  RecordingTelemetry,
  recordingAlerts,
  RecordingAlerts,
} from '../../support/in-memory';

const settings: BackupSettings = { ...policyTestSettings };

function policy(overrides: Partial<VaultPolicy> = {}): VaultPolicy {
  return {
    include: [],
    exclude: [],
    paused: false,
    rpoHours: 24,
    retention: {},
    refreshAfterDays: Number.POSITIVE_INFINITY,
    ...overrides,
  };
}

function target(name: string, overrides: Partial<VaultPolicy> = {}): VaultTarget {
  return {
    url: `https://${name}.vault.azure.net/`,
    name,
    types: ['key', 'secret', 'certificate'],
    critical: { kind: 'all' },
    policy: policy(overrides),
  };
}

function object(type: ObjectSummary['type'], name: string, extra: Partial<ObjectSummary> = {}): ObjectSummary {
  return { type, name, tags: {}, enabled: true, managed: false, ...extra };
}

const tagsOf = (tags: Record<string, Record<string, string>>): VaultTagReader => ({
  tags: async (t) => tags[t.name],
});

describe('isSelectedByPolicy', () => {
  it('excludes by type-qualified name glob, leaving the same name of another type', () => {
    const vault = target('a', { exclude: [{ kind: 'name', type: 'secret', pattern: 'tmp-*' }] });
    expect(isSelectedByPolicy(object('secret', 'TMP-build'), vault)).toBe(false);
    expect(isSelectedByPolicy(object('key', 'tmp-build'), vault)).toBe(true);
    expect(isSelectedByPolicy(object('secret', 'app-db'), vault)).toBe(true);
  });

  it('includes only what matches an include filter, then drops what an exclude filter matches', () => {
    const vault = target('a', {
      include: [
        { kind: 'tag', tag: 'backup', value: 'yes' },
        { kind: 'contentType', pattern: 'application/x-pem-file' },
      ],
      exclude: [{ kind: 'tag', tag: 'env', value: 'dev' }],
    });
    expect(isSelectedByPolicy(object('key', 'k', { tags: { Backup: 'yes' } }), vault)).toBe(true);
    expect(isSelectedByPolicy(object('secret', 's', { contentType: 'application/x-pem-file' }), vault)).toBe(true);
    expect(isSelectedByPolicy(object('secret', 's', { contentType: 'text/plain' }), vault)).toBe(false);
    expect(isSelectedByPolicy(object('key', 'k', { tags: { backup: 'yes', env: 'dev' } }), vault)).toBe(false);
  });

  it('never selects a type the vault does not back up, nor a certificate-managed key', () => {
    const vault = { ...target('a'), types: ['key' as const] };
    expect(isSelectedByPolicy(object('secret', 's'), vault)).toBe(false);
    expect(isSelectedByPolicy(object('key', 'cert', { managed: true }), vault)).toBe(false);
  });
});

describe('pause switch', () => {
  it('pauses by setting, or by the vault tag kvguard:paused=true, and says which', async () => {
    expect(await pauseState(target('a', { paused: true }), tagsOf({}))).toMatchObject({ paused: true, by: 'setting' });
    expect(await pauseState(target('a'), tagsOf({ a: { 'KVGUARD:Paused': 'True' } }))).toMatchObject({
      paused: true,
      by: 'tag',
      reason: 'paused by the vault tag kvguard:paused=true',
    });
    expect(await pauseState(target('a'), tagsOf({ a: { 'kvguard:paused': 'false' } }))).toEqual({ paused: false });
  });

  it('backs up a vault whose tags cannot be read, and logs why', async () => {
    const logger = new RecordingLogger();
    const failing: VaultTagReader = {
      tags: async () => {
        throw new Error('ARM said 403');
      },
    };
    expect(await pauseState(target('a'), failing, logger)).toEqual({ paused: false });
    expect(logger.text()).toContain('ARM said 403');
  });

  it('the timer skips paused vaults and vaults not due on this tick', async () => {
    const vaults = [
      target('every-tick'),
      target('nightly', { schedule: '0 0 2 * * *' }),
      target('paused', { paused: true }),
      target('tagged'),
    ];
    const tags = tagsOf({ tagged: { 'kvguard:paused': 'true' } });
    const timer = '0 0 */6 * * *';
    const at1200 = await vaultsDueOnTick(vaults, {
      timerSchedule: timer,
      now: new Date('2026-12-01T12:00:00.2Z'),
      tags,
    });
    expect(at1200.due.map((v) => v.name)).toEqual(['every-tick']);
    expect(at1200.skipped).toEqual([
      { vault: 'nightly', reason: 'not due: its schedule is 0 0 2 * * *' },
      { vault: 'paused', reason: expect.stringContaining('paused by setting') },
      { vault: 'tagged', reason: 'paused by the vault tag kvguard:paused=true' },
    ]);
    // 02:00 lies between the 00:00 and 06:00 ticks: the nightly vault runs on the 06:00 one.
    const at0600 = await vaultsDueOnTick(vaults, {
      timerSchedule: timer,
      now: new Date('2026-12-02T06:00:00.4Z'),
      tags,
    });
    expect(at0600.due.map((v) => v.name)).toEqual(['every-tick', 'nightly']);
  });

  it('a vault schedule is due on the first timer tick at or after its occurrence, and only then', () => {
    const nightly = target('n', { schedule: '0 0 2 * * *' });
    const sixHourly = '0 0 */6 * * *';
    expect(isDueOnTick(nightly, sixHourly, new Date('2026-12-01T00:00:00Z'))).toBe(false);
    expect(isDueOnTick(nightly, sixHourly, new Date('2026-12-01T06:00:00.5Z'))).toBe(true);
    expect(isDueOnTick(nightly, sixHourly, new Date('2026-12-01T12:00:00Z'))).toBe(false);
    expect(isDueOnTick(nightly, '0 0 * * * *', new Date('2026-12-01T02:00:00Z'))).toBe(true);
    expect(isDueOnTick(nightly, '0 0 * * * *', new Date('2026-12-01T03:00:00Z'))).toBe(false);
  });
});

/** A vault holding one key, backed up once through the backup use case. */
async function backedUpVault(vaultTarget: VaultTarget) {
  const clock = new ManualClock('2026-12-01T00:00:00Z');
  const factory = new InMemoryVaultFactory();
  factory.create(vaultTarget.name, { clock }).seedKey('k');
  const store = new InMemoryBackupStore();
  const logger = new RecordingLogger();
  const deps = {
    vaults: factory,
    store,
    alerts: new RecordingAlerts(),
    telemetry: new RecordingTelemetry(),
    logger,
    clock,
  };
  await backupVaultNow(vaultTarget, deps, settings);
  return { clock, store, logger };
}

describe('status of a paused vault', () => {
  it('shows the vault as paused and never healthy, and its RPO alert says why', async () => {
    const paused = target('paused', { paused: true, rpoHours: 12 });
    const { clock, store, logger } = await backedUpVault(paused);
    clock.advance(3_600_000);
    const fresh = await vaultStatuses([paused], store, clock, 24);
    expect(fresh.vaults[0]).toMatchObject({
      rpoHours: 12,
      rpoBreached: false,
      healthy: false,
      paused: { by: 'setting' },
    });

    clock.advance(12 * 3_600_000);
    const { vaults, rpoBreached } = await vaultStatuses([paused], store, clock, 24);
    expect(rpoBreached).toBe(true);
    const { alerts, received } = recordingAlerts({ logger, clock });
    await alertRpoBreaches(vaults, alerts, clock);
    expect(received).toHaveLength(1);
    expect(received[0]!.summary).toMatch(/13 h old \(RPO 12 h\); scheduled backups are paused by setting/);
  });

  it('a vault within its RPO and not paused is healthy', async () => {
    const ok = target('ok');
    const { clock, store } = await backedUpVault(ok);
    const { vaults } = await vaultStatuses([ok], store, clock, 24, tagsOf({}));
    expect(vaults[0]).toMatchObject({ healthy: true, rpoBreached: false });
    expect(vaults[0]!.paused).toBeUndefined();
  });
});
