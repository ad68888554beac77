import { policyTestSettings } from '../../support/back-up-now';
import { describe, expect, it } from 'vitest';
import type { BackupDependencies, BackupSettings } from '../../../src/core/backup/backup-vault';
import { versionsFingerprint } from '../../../src/core/backup/fingerprint';
import { backupVaultNow } from '../../../src/core/backup/runs';
import type { ObjectFilter, ObjectType, RetentionPolicy, VaultTarget } from '../../../src/core/domain';
import { refreshAfterDays } from '../../../src/core/policy/refresh';
import { markPrunable } from '../../../src/core/retention/marks';
import { retentionPlan } from '../../../src/core/retention/plan';
import {
  InMemoryBackupStore,
  InMemoryInventoryStore,
  InMemoryPruneMarks,
  InMemoryVaultFactory,
  ManualClock,
  RecordingLogger,
  RecordingTelemetry,
  RecordingAlerts,
} from '../../support/in-memory';

const DAY_MS = 86_400_000;
const settings: BackupSettings = { ...policyTestSettings };

function setup(retention: RetentionPolicy, options: { exclude?: ObjectFilter[] } = {}) {
  const clock = new ManualClock('2026-01-01T00:00:00.000Z');
  const factory = new InMemoryVaultFactory();
  const vault = factory.create('contoso', { clock });
  const store = new InMemoryBackupStore();
  const inventory = new InMemoryInventoryStore();
  const marks = new InMemoryPruneMarks();
  const deps: BackupDependencies = {
    vaults: factory,
    store,
    inventory,
    alerts: new RecordingAlerts(),
    telemetry: new RecordingTelemetry(),
    logger: new RecordingLogger(),
    clock,
  };
  const rpoHours = 24;
  const target: VaultTarget = {
    url: vault.url,
    name: vault.name,
    types: ['key', 'secret', 'certificate'],
    critical: { kind: 'all' },
    policy: {
      include: [],
      exclude: options.exclude ?? [],
      paused: false,
      rpoHours,
      retention,
      refreshAfterDays: refreshAfterDays(retention, { wormDays: 90, rpoHours }),
    },
  };
  /** One retention pass: plan, mark, and the storage lifecycle rule deleting what is marked. */
  const prune = async () => {
    const plan = await retentionPlan(store, target, clock);
    const result = await markPrunable(plan, marks, clock.now());
    for (const blobName of marks.marked.keys()) store.expire(blobName);
    marks.marked.clear();
    return { plan, result };
  };
  return { clock, vault, store, deps, target, prune };
}

function backupsOf(store: InMemoryBackupStore, type: ObjectType, name: string) {
  return store.records().filter((r) => r.type === type && r.name.toLowerCase() === name.toLowerCase());
}

describe('retention with a policy excluding tmp-* secrets and keepLast 3', () => {
  it('keeps exactly the three newest backups of each selected object, and nothing of tmp-* secrets, across many runs', async () => {
    const { clock, vault, store, deps, target, prune } = setup(
      { keepLast: 3 },
      {
        exclude: [{ kind: 'name', type: 'secret', pattern: 'tmp-*' }],
      },
    );
    vault
      .seedSecret('app-db')
      .seedSecret('app-api')
      .seedSecret('tmp-build')
      .seedSecret('TMP-cache')
      .seedKey('tmp-signing');
    const storedPerRun: string[][] = [];
    for (let run = 0; run < 12; run++) {
      if (run > 0) {
        for (const name of ['app-db', 'app-api', 'tmp-build', 'TMP-cache']) vault.addVersion('secret', name);
        vault.addVersion('key', 'tmp-signing');
        clock.advance(DAY_MS);
      }
      const summary = await backupVaultNow(target, deps, settings);
      expect(summary.succeeded).toBe(true);
      storedPerRun.push(
        store
          .records()
          .filter((r) => r.runId === summary.runId)
          .map((r) => r.blobName),
      );
      await prune();
    }
    expect(store.records().filter((r) => r.type === 'secret' && r.name.toLowerCase().startsWith('tmp-'))).toEqual([]);
    for (const [type, name] of [
      ['secret', 'app-db'],
      ['secret', 'app-api'],
      ['key', 'tmp-signing'],
    ] as const) {
      const kept = backupsOf(store, type, name);
      expect(kept).toHaveLength(3);
      const newestThree = storedPerRun.slice(-3).flat();
      expect(kept.every((r) => newestThree.includes(r.blobName))).toBe(true);
      // …and the newest of them holds every version the object has now.
      expect(kept[0]!.fingerprint).toBe(versionsFingerprint(vault.inspect(type, name)!.versions));
    }
  });

  it('plans without changing anything and says why each backup goes', async () => {
    const { clock, vault, store, deps, target } = setup({ keepLast: 1, keepDays: 3 });
    vault.seedKey('k');
    for (let day = 0; day < 4; day++) {
      await backupVaultNow(target, deps, settings);
      vault.addVersion('key', 'k');
      clock.advance(DAY_MS);
    }
    const before = store.records().length;
    const plan = await retentionPlan(store, target, clock);
    expect(store.records()).toHaveLength(before);
    const [object] = plan.objects;
    expect(object!.state).toBe('live');
    expect(object!.keep.map((k) => k.reason)).toEqual([
      'newest backup of a live object',
      'younger than 3 d (keepDays)',
    ]);
    expect(object!.prune.map((p) => p.reason)).toEqual([
      'older than 3 d and not among the 1 newest',
      'older than 3 d and not among the 1 newest',
    ]);
    expect(plan.totals).toMatchObject({ backups: 4, keep: 2, prune: 2 });
  });

  it('prunes nothing when no retention limit is set', async () => {
    const { clock, vault, deps, target, prune } = setup({});
    vault.seedKey('k');
    for (let day = 0; day < 5; day++) {
      await backupVaultNow(target, deps, settings);
      vault.addVersion('key', 'k');
      clock.advance(DAY_MS);
    }
    const { plan } = await prune();
    expect(plan.totals).toMatchObject({ backups: 5, keep: 5, prune: 0 });
  });
});

describe('never the last copy: a simulated year', () => {
  it('keeps a fresh backup of every live object at all times, and a deleted one until keepDeletedDays', async () => {
    const retention = { keepDays: 30, keepLast: 2, keepDeletedDays: 60 };
    const { clock, vault, store, deps, target, prune } = setup(retention);
    vault.seedKey('stable-key').seedCertificate('stable-cert').seedSecret('rotated-secret').seedKey('doomed-key');
    const refreshDays = target.policy!.refreshAfterDays;
    expect(refreshDays).toBe(28);
    let deletedAt: Date | undefined;
    let lastSeenDeleted: Date | undefined;
    // The key and secret a certificate owns are backed up through it.
    const live = () =>
      (['key', 'secret', 'certificate'] as const).flatMap((type) =>
        vault
          .liveNames(type)
          .filter((name) => !vault.inspect(type, name)!.managed)
          .map((name) => ({ type, name })),
      );

    for (let day = 0; day < 365; day++) {
      if (day === 45) vault.seedSecret('late-secret');
      if (day === 100) {
        await vault.delete('key', 'doomed-key');
        deletedAt = clock.now();
      }
      if (day % 30 === 0) vault.addVersion('secret', 'rotated-secret');

      const summary = await backupVaultNow(target, deps, settings);
      expect(summary.succeeded).toBe(true);
      if (!deletedAt) lastSeenDeleted = clock.now();
      await prune();

      for (const { type, name } of live()) {
        const backups = backupsOf(store, type, name);
        expect(backups.length, `${type} ${name} on day ${day}`).toBeGreaterThan(0);
        const newest = backups[0]!;
        // The newest backup holds every version the object has now, and is young enough that neither keepDays nor
        // the WORM window (nor any age-based lifecycle rule on them) can take it.
        // (A certificate's fingerprint also covers its policy, so only keys and secrets are compared by versions.)
        if (type !== 'certificate')
          expect(newest.fingerprint).toBe(versionsFingerprint(vault.inspect(type, name)!.versions));
        expect((clock.now().getTime() - newest.takenAt.getTime()) / DAY_MS).toBeLessThan(retention.keepDays);
      }
      const doomed = backupsOf(store, 'key', 'doomed-key');
      if (deletedAt) {
        const goneDays = (clock.now().getTime() - lastSeenDeleted!.getTime()) / DAY_MS;
        if (goneDays <= retention.keepDeletedDays) expect(doomed.length, `doomed-key on day ${day}`).toBeGreaterThan(0);
        if (goneDays > retention.keepDeletedDays + 1) expect(doomed, `doomed-key on day ${day}`).toEqual([]);
      }
      clock.advance(DAY_MS);
    }
    // Stable objects were stored again (refreshed) about every 28 days: 13 times in a year; retention kept the two
    // newest (keepLast) plus any younger than 30 days.
    const refreshes: string[] = [];
    for await (const manifest of store.listManifests(target.name)) {
      if (manifest.scope !== 'chunk') continue;
      for (const e of manifest.entries)
        if (e.outcome.status === 'stored' && e.outcome.refreshed) refreshes.push(`${e.type}/${e.name}`);
    }
    expect(refreshes.filter((r) => r === 'key/stable-key')).toHaveLength(13);
    expect(refreshes.filter((r) => r === 'certificate/stable-cert')).toHaveLength(13);
    expect(backupsOf(store, 'key', 'stable-key').length).toBeLessThanOrEqual(3);
  });
});
