import { describe, expect, it } from 'vitest';
import { runBackupJob, type BackupDependencies, type BackupSettings } from '../../../src/core/backup/backup-vault';
import {
  backupVaultNow,
  firstBackupJob,
  isRunComplete,
  runQueuedBackupJob,
  scheduleBackups,
  summariseRun,
} from '../../../src/core/backup/runs';
import { alertRpoBreaches, vaultStatus } from '../../../src/core/backup/status';
import type { RunManifest, VaultTarget } from '../../../src/core/domain';
import type { BackupJob } from '../../../src/core/jobs';
import type { Alert } from '../../../src/core/ports';
import {
  InMemoryBackupStore,
  InMemoryQueue,
  InMemoryVault,
  InMemoryVaultFactory,
  ManualClock,
  RecordingAlerts,
  RecordingLogger,
  RecordingTelemetry,
  kvError,
  seedObjects,
} from '../../support/in-memory';

const settings: BackupSettings = {
  pageSize: 25,
  deadlineSeconds: 60,
  objectConcurrency: 8,
  refreshDays: 7,
  kvguardVersion: '0.0.0-test',
};

function target(vault: InMemoryVault, overrides: Partial<VaultTarget> = {}): VaultTarget {
  return {
    url: vault.url,
    name: vault.name,
    types: ['key', 'secret', 'certificate'],
    critical: { kind: 'all' },
    ...overrides,
  };
}

function setup() {
  const clock = new ManualClock('2026-11-01T00:00:00.000Z');
  const factory = new InMemoryVaultFactory();
  const vault = factory.create('contoso', { clock });
  const raised: Alert[] = [];
  const deps: BackupDependencies & { store: InMemoryBackupStore; telemetry: RecordingTelemetry } = {
    vaults: factory,
    store: new InMemoryBackupStore(),
    alerts: new RecordingAlerts(raised),
    telemetry: new RecordingTelemetry(),
    logger: new RecordingLogger(),
    clock,
  };
  return { clock, factory, vault, deps, raised };
}

/** Runs a vault's jobs the way the queue would: each job's follow-ups are processed after it. */
async function runThroughQueue(job: BackupJob, vaultTarget: VaultTarget, deps: BackupDependencies) {
  const queue = new InMemoryQueue<BackupJob>();
  await queue.send(job);
  const manifests: (RunManifest & { blobName: string })[] = [];
  for (let next = queue.drain(); next.length > 0; next = queue.drain()) {
    for (const j of next) {
      const result = await runBackupJob(j, vaultTarget, deps, settings, (follow) => queue.send(follow));
      manifests.push({ ...result.manifest, blobName: result.manifestBlob });
    }
  }
  return manifests;
}

describe('runBackupJob through the queue', () => {
  it('backs up every object of a vault spread over many pages, one chunk job per page', async () => {
    const { vault, deps } = setup();
    seedObjects(vault, 'key', 60);
    seedObjects(vault, 'secret', 30);
    seedObjects(vault, 'certificate', 5);
    const manifests = await runThroughQueue(firstBackupJob(target(vault), deps.clock), target(vault), deps);

    // 65 keys (60 + 5 managed) on 3 pages, 35 secrets (30 + 5 managed) on 2, 5 certificates on 1; the first page
    // starts the other types' listings, so the types' pages run side by side.
    expect(manifests.map((m) => `${m.chunk?.type}-${m.chunk?.sequence}`)).toEqual([
      'key-0',
      'key-1',
      'secret-0',
      'certificate-0',
      'key-2',
      'secret-1',
    ]);
    const summary = summariseRun(manifests, target(vault));
    expect(summary).toMatchObject({ complete: true, succeeded: true, stats: { stored: 95, unchanged: 0, failed: 0 } });
    // The certificates' managed keys and secrets are carried by the certificate backups, never stored on their own.
    expect(
      deps.store
        .records()
        .map((r) => `${r.type}/${r.name}`)
        .sort(),
    ).toHaveLength(95);
    expect(deps.store.records().filter((r) => r.type === 'key' && r.name.startsWith('certificate-'))).toEqual([]);
  });

  it('stores nothing on a second run of an unchanged vault, and only the changed key after a new version', async () => {
    const { vault, deps, clock } = setup();
    seedObjects(vault, 'key', 30);
    seedObjects(vault, 'secret', 3);
    await backupVaultNow(target(vault), deps, settings);
    const backupsAfterFirst = vault.callCount('backup');

    clock.advance(60_000);
    const second = await backupVaultNow(target(vault), deps, settings);
    expect(second.stats).toMatchObject({ stored: 0, unchanged: 33, failed: 0 });
    expect(vault.callCount('backup')).toBe(backupsAfterFirst);

    clock.advance(60_000);
    vault.addVersion('key', 'key-007');
    const third = await backupVaultNow(target(vault), deps, settings);
    expect(third.stats).toMatchObject({ stored: 1, unchanged: 32 });
    const stored = deps.store.records().filter((r) => r.name === 'key-007');
    expect(stored).toHaveLength(2);
    // The changed key's versions were listed before its backup: the newest record counts both versions.
    expect(stored.map((r) => [r.versionCount, r.versionsCounted])).toEqual([
      [2, undefined],
      [1, undefined],
    ]);
  });

  it('makes one backup call per object plus the list pages on a full run, and none beyond the pages when unchanged', async () => {
    const { vault, deps, clock } = setup();
    seedObjects(vault, 'key', 30);
    seedObjects(vault, 'secret', 3);
    clock.advance(60_000);
    await backupVaultNow(target(vault), deps, settings, { full: true });
    // Two key pages (25 + 5), one secret page and one (empty) certificate page.
    expect([vault.callCount('listObjects'), vault.callCount('backup'), vault.callCount('listVersions')]).toEqual([
      4, 33, 0,
    ]);

    clock.advance(60_000);
    const unchanged = await backupVaultNow(target(vault), deps, settings);
    expect(unchanged.stats).toMatchObject({ stored: 0, unchanged: 33 });
    expect([vault.callCount('listObjects'), vault.callCount('backup'), vault.callCount('listVersions')]).toEqual([
      8, 33, 0,
    ]);

    clock.advance(60_000);
    vault.addVersion('secret', 'secret-001');
    const changed = await backupVaultNow(target(vault), deps, settings);
    expect(changed.stats).toMatchObject({ stored: 1, unchanged: 32 });
    // The changed object costs one version listing and one backup call; the unchanged ones nothing beyond the pages.
    expect([vault.callCount('listObjects'), vault.callCount('backup'), vault.callCount('listVersions')]).toEqual([
      12, 34, 1,
    ]);
  });

  it('backs an unchanged object up again, counting its versions, once its newest backup is older than the refresh period', async () => {
    const { vault, deps, clock } = setup();
    seedObjects(vault, 'key', 5);
    clock.advance(60_000);
    await backupVaultNow(target(vault), deps, settings);
    clock.advance(3 * 86_400_000);
    expect((await backupVaultNow(target(vault), deps, settings)).stats).toMatchObject({ stored: 0, unchanged: 5 });
    clock.advance(4 * 86_400_000 + 1);
    const refreshed = await backupVaultNow(target(vault), deps, settings);
    expect(refreshed.stats).toMatchObject({ stored: 5, unchanged: 0 });
    // The refresh is the deep check: the versions are counted again (5 at the first run, 5 now).
    expect(vault.callCount('listVersions')).toBe(10);
  });

  it('counts the versions of a changed object again near the version limit, and warns', async () => {
    const { vault, deps, clock } = setup();
    seedObjects(vault, 'secret', 1);
    for (let i = 0; i < 399; i++) vault.addVersion('secret', 'secret-000');
    clock.advance(60_000);
    await backupVaultNow(target(vault), deps, settings);
    clock.advance(60_000);
    vault.addVersion('secret', 'secret-000');
    const listed = vault.callCount('listVersions');
    const run = await backupVaultNow(target(vault), deps, settings);
    expect(vault.callCount('listVersions')).toBe(listed + 1);
    expect(run.warnings).toEqual([
      expect.objectContaining({ name: 'secret-000', warning: expect.stringContaining('401') }),
    ]);
  });

  it("stores a certificate again after only its policy changed (no version's updated time moved)", async () => {
    const { vault, deps, clock } = setup();
    vault.seedCertificate('web-tls');
    await backupVaultNow(target(vault), deps, settings);
    clock.advance(60_000);
    expect((await backupVaultNow(target(vault), deps, settings)).stats).toMatchObject({ stored: 0, unchanged: 1 });

    clock.advance(60_000);
    const versionsBefore = vault.inspect('certificate', 'web-tls')!.versions;
    vault.setPolicy('web-tls', { x509_props: { subject: 'CN=web-tls-renamed', validity_months: 6 } });
    expect(vault.inspect('certificate', 'web-tls')!.versions).toEqual(versionsBefore);
    const afterPolicyChange = await backupVaultNow(target(vault), deps, settings);
    expect(afterPolicyChange.stats).toMatchObject({ stored: 1, unchanged: 0 });
    expect(deps.store.records().filter((r) => r.name === 'web-tls')).toHaveLength(2);
  });

  it('hands objects that missed the job deadline to a follow-up job at once, which stores them', async () => {
    const { vault, deps } = setup();
    seedObjects(vault, 'key', 6);
    const late = (args: unknown[]) => args[1] === 'key-004' || args[1] === 'key-005';
    vault.failWhen('backup', late, () => kvError('DeadlineExceeded', 'the job ran out of time'), 2);

    const manifests = await runThroughQueue(firstBackupJob(target(vault), deps.clock), target(vault), deps);

    const followUp = manifests.find((m) => m.scope === 'objects')!;
    expect(followUp.entries.map((e) => [e.name, e.outcome.status]).sort()).toEqual([
      ['key-004', 'stored'],
      ['key-005', 'stored'],
    ]);
    expect(summariseRun(manifests, target(vault)).stats).toMatchObject({ stored: 6, failed: 0 });
    expect(new Set(deps.store.records().map((r) => r.name)).size).toBe(6);
  });

  it('stops following up after a few follow-ups of an object that never finishes in time', async () => {
    const { vault, deps } = setup();
    seedObjects(vault, 'key', 2);
    vault.failWhen(
      'backup',
      (args) => args[1] === 'key-001',
      () => kvError('DeadlineExceeded', 'too slow'),
    );

    const manifests = await runThroughQueue(firstBackupJob(target(vault), deps.clock), target(vault), deps);

    expect(manifests.filter((m) => m.scope === 'objects').map((m) => m.entries.length)).toEqual([1, 1, 1]);
  });

  it('stores every object again on a full run', async () => {
    const { vault, deps, clock } = setup();
    seedObjects(vault, 'key', 4);
    await backupVaultNow(target(vault), deps, settings);
    clock.advance(1000);
    const full = await backupVaultNow(target(vault), deps, settings, { full: true });
    expect(full.stats).toMatchObject({ stored: 4, unchanged: 0 });
  });

  it('backs up only the objects the critical selector picks', async () => {
    const { vault, deps } = setup();
    vault
      .seedKey('db-key', { tags: { kvguard: 'critical' } })
      .seedKey('scratch')
      .seedSecret('api', { tags: { KVGUARD: 'critical' } });
    const tagged = await backupVaultNow(
      target(vault, { critical: { kind: 'tag', tag: 'kvguard', value: 'critical' } }),
      deps,
      settings,
    );
    expect(tagged.stats.stored).toBe(2);
    expect(
      deps.store
        .records()
        .map((r) => r.name)
        .sort(),
    ).toEqual(['api', 'db-key']);

    const byName = await backupVaultNow(
      target(vault, { critical: { kind: 'names', patterns: ['SCR*'] } }),
      deps,
      settings,
    );
    expect(byName.stats.stored).toBe(1);
  });

  it('names an object with too many versions in the manifest, warns near the limit, and goes on', async () => {
    const { vault, deps, raised } = setup();
    vault.seedKey('huge', { versions: 501 }).seedKey('large', { versions: 420 }).seedKey('small');
    const run = await backupVaultNow(target(vault, { types: ['key'] }), deps, settings);
    expect(run.stats).toMatchObject({ stored: 2, failed: 1 });
    expect(run.failures).toEqual([expect.objectContaining({ name: 'huge', code: 'TooManyVersions' })]);
    expect(run.warnings.map((w) => w.name).sort()).toEqual(['huge', 'large']);
    expect(deps.telemetry.eventsNamed('kvguard.VersionLimitNear')).toHaveLength(2);
    expect(deps.telemetry.metricValues('kvguard.backup.failed')).toEqual([1]);
    expect(deps.telemetry.metricValues('kvguard.backup.stored')).toEqual([2]);
    expect(raised.map((a) => a.type)).toEqual(['kvguard.BackupFailed']);
  });

  it('reports a refused create-only write and never overwrites the stored blob', async () => {
    const { vault, deps } = setup();
    vault.seedKey('k1').seedKey('k2');
    deps.store.failNext('putBackup', () =>
      kvError('AlreadyExists', 'blob exists', { serviceCode: 'BlobAlreadyExists', statusCode: 409 }),
    );
    const run = await backupVaultNow(target(vault, { types: ['key'] }), deps, settings);
    expect(run.stats).toMatchObject({ stored: 1, failed: 1 });
    expect(run.failures[0]).toMatchObject({ code: 'AlreadyExists' });
  });

  it('records a forbidden vault as a failed run with an alert, while another vault completes', async () => {
    const { factory, vault, deps, raised } = setup();
    vault.seedKey('k1');
    const other = factory.create('locked');
    factory.forbid(other.url);
    const locked = await backupVaultNow(target(other), deps, settings);
    const fine = await backupVaultNow(target(vault), deps, settings);
    expect(locked).toMatchObject({
      complete: false,
      succeeded: false,
      errors: [expect.objectContaining({ code: 'Forbidden' })],
    });
    expect(fine).toMatchObject({ succeeded: true, stats: { stored: 1 } });
    expect(raised).toEqual([
      expect.objectContaining({ type: 'kvguard.BackupFailed', severity: 'critical', subject: 'locked' }),
    ]);
  });

  it('snapshots only the objects an event job names, with the same incremental rule', async () => {
    const { vault, deps } = setup();
    vault.seedKey('rotated').seedKey('other');
    const job: BackupJob = {
      ...firstBackupJob(target(vault), deps.clock, { trigger: 'event' }),
      objects: [{ type: 'key', name: 'rotated' }],
    };
    const first = await runBackupJob(job, target(vault), deps, settings, async () => {
      throw new Error('an object job never dispatches follow-ups');
    });
    expect(first.manifest).toMatchObject({ scope: 'objects', stats: { stored: 1 } });
    const again = await runBackupJob({ ...job, runId: 'second' }, target(vault), deps, settings, async () => {});
    expect(again.manifest.stats).toMatchObject({ stored: 0, unchanged: 1 });
    expect(deps.store.records().map((r) => r.name)).toEqual(['rotated']);
  });

  it("snapshots the certificate when an event names the certificate's own key", async () => {
    const { vault, deps } = setup();
    vault.seedCertificate('tls');
    const job: BackupJob = {
      ...firstBackupJob(target(vault), deps.clock, { trigger: 'event' }),
      objects: [{ type: 'key', name: 'tls' }],
    };
    const { manifest } = await runBackupJob(job, target(vault), deps, settings, async () => {});
    expect(manifest.entries).toEqual([
      expect.objectContaining({
        type: 'certificate',
        name: 'tls',
        outcome: expect.objectContaining({ status: 'stored' }),
      }),
    ]);
    expect(deps.store.records().map((r) => `${r.type}/${r.name}`)).toEqual(['certificate/tls']);
  });

  it('stores the exact bytes the vault returned, with their SHA-256 in the catalog', async () => {
    const { vault, deps } = setup();
    vault.seedSecret('s1', { versions: 3 });
    await backupVaultNow(target(vault, { types: ['secret'] }), deps, settings);
    const [record] = deps.store.records();
    const { bytes } = await deps.store.readBackup(record!.blobName);
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(record!.sha256);
    expect(record).toMatchObject({
      vault: 'contoso',
      type: 'secret',
      name: 's1',
      versionCount: 3,
      size: bytes.byteLength,
    });
  });
});

async function storedManifests(store: InMemoryBackupStore): Promise<RunManifest[]> {
  const found: RunManifest[] = [];
  for await (const manifest of store.listManifests('contoso')) found.push(manifest);
  return found;
}

describe('runQueuedBackupJob', () => {
  it('throws a job that failed as a whole on throttling so the queue delivers it again, and writes its manifest first', async () => {
    const { vault, deps } = setup();
    vault.seedKey('k1').failNext('listObjects', kvError('Throttled', 'too many requests'));
    const job = firstBackupJob(target(vault), deps.clock);
    await expect(runQueuedBackupJob(job, target(vault), deps, settings, async () => {})).rejects.toMatchObject({
      code: 'Throttled',
    });
    const [manifest] = await storedManifests(deps.store);
    expect(manifest).toMatchObject({ runId: job.runId, error: { code: 'Throttled' } });
  });

  it('records the run summary once, after the last object type to finish its listing', async () => {
    const { vault, deps } = setup();
    vault.seedKey('k1');
    const queue = new InMemoryQueue<BackupJob>();
    const job = firstBackupJob(target(vault, { types: ['key', 'secret'] }), deps.clock);
    await queue.send(job);
    for (let next = queue.drain(); next.length > 0; next = queue.drain()) {
      for (const j of next)
        await runQueuedBackupJob(j, target(vault, { types: ['key', 'secret'] }), deps, settings, (f) => queue.send(f));
    }
    const manifests = await storedManifests(deps.store);
    expect(manifests.map((m) => m.scope).sort()).toEqual(['chunk', 'chunk', 'summary']);
  });
});

describe('a run whose pages finish out of order', () => {
  it('records the summary through a check-back once a retried earlier page has reported', async () => {
    const { vault, deps } = setup();
    seedObjects(vault, 'key', 30);
    const vaultTarget = target(vault, { types: ['key'] });
    const queue = new InMemoryQueue<BackupJob>();
    const dispatch = (job: BackupJob, options?: { delaySeconds?: number }) => queue.send(job, options);
    const first = firstBackupJob(vaultTarget, deps.clock);
    // Page 0 lists, sends page 1, then fails as a whole (a storage hiccup) and is delivered again later.
    deps.store.failNext('putManifest', kvError('Transient', 'storage unavailable'));
    await runQueuedBackupJob(first, vaultTarget, deps, settings, dispatch).catch(() => undefined);
    const [lastPage] = queue.sent.splice(0);
    await runQueuedBackupJob(lastPage!.job, vaultTarget, deps, settings, dispatch);
    const [checkBack] = queue.sent.splice(0);
    expect(checkBack).toMatchObject({ job: { summarise: { attempt: 1 } }, delaySeconds: 15 });
    await runQueuedBackupJob(first, vaultTarget, deps, settings, async () => {});
    await runQueuedBackupJob(checkBack!.job, vaultTarget, deps, settings, dispatch);
    expect((await storedManifests(deps.store)).map((m) => m.scope)).toContain('summary');
    expect(queue.drain()).toEqual([]);
  });
});

describe('run completeness', () => {
  const chunk = (type: 'key' | 'secret', sequence: number, lastPage: boolean) =>
    ({ chunk: { type, sequence, lastPage } }) as RunManifest;

  it('is complete only when every page of every type has reported', () => {
    expect(
      isRunComplete([chunk('key', 0, false), chunk('key', 1, true), chunk('secret', 0, true)], ['key', 'secret']),
    ).toBe(true);
    expect(isRunComplete([chunk('key', 1, true), chunk('secret', 0, true)], ['key', 'secret'])).toBe(false);
    expect(isRunComplete([chunk('key', 0, false), chunk('key', 1, true)], ['key', 'secret'])).toBe(false);
    expect(
      isRunComplete([chunk('key', 0, true), chunk('key', 0, true), chunk('secret', 0, true)], ['key', 'secret']),
    ).toBe(true);
  });
});

describe('scheduling and status', () => {
  it('enqueues one job per vault', async () => {
    const { vault, deps } = setup();
    const queue = new InMemoryQueue<BackupJob>();
    const other = new InMemoryVault('https://other.vault.azure.net/');
    await scheduleBackups([target(vault), target(other)], queue, deps.clock);
    expect(queue.jobs.map((j) => [j.vaultUrl, j.trigger, j.chunk])).toEqual([
      [vault.url, 'schedule', undefined],
      [other.url, 'schedule', undefined],
    ]);
  });

  it('judges the RPO from the newest successful run and alerts once per breach', async () => {
    const { vault, deps, clock, raised } = setup();
    vault.seedKey('k1');
    await backupVaultNow(target(vault), deps, settings);

    clock.advance(2 * 3_600_000);
    const fresh = await vaultStatus(target(vault), deps.store, clock, 24);
    expect(fresh).toMatchObject({ rpoBreached: false, ageHours: 2, counts: { stored: 1, unchanged: 0, failed: 0 } });

    clock.advance(23 * 3_600_000);
    const stale = await vaultStatus(target(vault), deps.store, clock, 24);
    expect(stale).toMatchObject({ rpoBreached: true, ageHours: 25 });
    await alertRpoBreaches([stale], deps.alerts, clock);
    expect(raised).toEqual([
      expect.objectContaining({ type: 'kvguard.RpoBreached', dedupeKey: `rpo/contoso/${stale.lastSuccessAt}` }),
    ]);
  });

  it('does not count a failed run as a recovery point', async () => {
    const { factory, deps, clock } = setup();
    const locked = factory.create('locked');
    factory.forbid(locked.url);
    await backupVaultNow(target(locked), deps, settings);
    const status = await vaultStatus(target(locked), deps.store, clock, 24);
    expect(status).toMatchObject({ rpoBreached: true, lastSuccessAt: undefined, lastRun: { succeeded: false } });
  });

  it('reads run manifests back to the newest summarised run only, and still reports a newer failed run', async () => {
    const { vault, factory, deps, clock } = setup();
    vault.seedKey('k1');
    const runs = [];
    for (let i = 0; i < 3; i++) {
      runs.push(await backupVaultNow(target(vault), deps, settings));
      clock.advance(3_600_000);
    }
    factory.forbid(vault.url);
    await backupVaultNow(target(vault), deps, settings);
    const list = deps.store.listManifests.bind(deps.store);
    let read = 0;
    deps.store.listManifests = async function* (name?: string) {
      for await (const manifest of list(name)) {
        read += 1;
        yield manifest;
      }
    };
    const status = await vaultStatus(target(vault), deps.store, clock, 24);
    expect(status).toMatchObject({
      lastSuccessAt: runs[2]!.finishedAt,
      lastRun: { succeeded: false },
      counts: { stored: 0, unchanged: 1 },
    });
    // The failed run's one manifest, then the newest good run's three chunks and its summary; older runs are not read.
    expect(read).toBe(5);
  });
});

describe('finding the manifests of one run', () => {
  it('reads a run id back to its start, and stops listing at the first older manifest', async () => {
    const { runStartFromId, newRunId } = await import('../../../src/core/backup/fingerprint');
    const { manifestsOfRun } = await import('../../../src/core/backup/runs');
    const started = new Date('2026-11-01T06:00:07.000Z');
    expect(runStartFromId(newRunId(started))).toEqual(started);
    expect(runStartFromId('event-1234')).toBeUndefined();

    const { vault, deps, clock } = setup();
    vault.seedKey('k1');
    const older = await backupVaultNow(target(vault), deps, settings);
    clock.advance(3_600_000);
    const newer = await backupVaultNow(target(vault), deps, settings);
    let read = 0;
    const counting = {
      ...deps.store,
      listManifests: async function* (name?: string) {
        for await (const manifest of deps.store.listManifests(name)) {
          read += 1;
          yield manifest;
        }
      },
    };
    const found = await manifestsOfRun(counting, 'contoso', newer.runId);
    expect(new Set(found.map((m) => m.runId))).toEqual(new Set([newer.runId]));
    expect(found.length).toBeGreaterThan(0);
    expect(read).toBe(found.length + 1);
    expect(older.runId < newer.runId).toBe(true);
  });
});
