import { ALERT_TYPES } from '../alerts';
import {
  MAX_BACKUP_VERSIONS,
  VERSION_WARNING_THRESHOLD,
  tallyEntries,
  emptyRunStats,
  type ManifestEntry,
  type ObjectType,
  type RunManifest,
  type VaultTarget,
} from '../domain';
import { describeError, isKvGuardError, KvGuardError, RETRYABLE_CODES, type ErrorCode } from '../errors';
import { MAX_FOLLOW_UPS, MAX_JOB_OBJECTS, type BackupJob } from '../jobs';
import { mapWithConcurrency } from '../concurrency';
import type { Alerts, BackupStore, Clock, Logger, Telemetry, VaultPort, VaultPortFactory } from '../ports';
import { sha256Hex, versionsFingerprint } from './fingerprint';
import { describeObject, recordInventory, type InventoryStore } from '../browse/inventory';
import { mustRefresh } from '../policy/refresh';
import { isSelectedByPolicy } from './selection';

/** What the backup use case needs. */
export interface BackupDependencies {
  vaults: VaultPortFactory;
  store: BackupStore;
  alerts: Alerts;
  telemetry: Telemetry;
  logger: Logger;
  clock: Clock;
  /** Where each stored backup's inventory (versions, attributes, tags; no values) is recorded, for browse and diff. */
  inventory?: InventoryStore;
}

/** Tunables of a backup job. */
export interface BackupSettings {
  /** Objects per listing page (Key Vault answers at most 25). */
  pageSize: number;
  /** How long one job may take before retries stop. */
  deadlineSeconds: number;
  /** Objects processed at once within a page; the vault adapter bounds the actual Key Vault calls. */
  objectConcurrency: number;
  kvguardVersion: string;
}

/** What one job did. */
export interface BackupJobResult {
  manifest: RunManifest;
  manifestBlob: string;
}

/**
 * Sends a follow-up job (the next listing page, or the next object type). The queue function enqueues it before
 * this job processes its own page, so other instances can share a large vault; the CLI runs it in-process.
 */
export type DispatchJob = (job: BackupJob) => Promise<void>;

/** Job-level failures that a later attempt may get past: the retryable codes, and a job that ran out of time. */
const RETRYABLE_JOB_CODES: readonly string[] = [...RETRYABLE_CODES, 'DeadlineExceeded'] satisfies ErrorCode[];

/** Job-level failures that a later attempt may get past; the queue function rethrows them so the message retries. */
export function isRetryableJobFailure(manifest: RunManifest): boolean {
  return manifest.error !== undefined && RETRYABLE_JOB_CODES.includes(manifest.error.code);
}

/**
 * Processes one backup job: a vault chunk (one listing page of one object type) or an explicit object list (event
 * snapshots). Each object is backed up only when its versions changed since its newest stored backup (unless the
 * job is `full`); every outcome lands in the run manifest, and one object failing never stops the others.
 */
export async function runBackupJob(
  job: BackupJob,
  target: VaultTarget,
  deps: BackupDependencies,
  settings: BackupSettings,
  dispatch: DispatchJob,
): Promise<BackupJobResult> {
  const started = deps.clock.now();
  const vault = deps.vaults.open(target.url, {
    deadline: new Date(started.getTime() + settings.deadlineSeconds * 1000),
  });
  const manifest: RunManifest = {
    runId: job.runId,
    vault: target.name,
    vaultUrl: target.url,
    trigger: job.trigger,
    full: job.full,
    scope: job.objects ? 'objects' : 'chunk',
    ...(job.followUp ? { followUp: job.followUp } : {}),
    startedAt: started.toISOString(),
    finishedAt: started.toISOString(),
    entries: [],
    stats: emptyRunStats(),
  };
  try {
    const work = job.objects ?? (await listChunk(job, target, vault, settings, manifest, dispatch));
    const context = { job, target, vault, deps, settings };
    manifest.entries = await mapWithConcurrency(work, settings.objectConcurrency, (object) =>
      backupObject(context, object.type, object.name),
    );
    await followUpMissedObjects(job, manifest, deps, dispatch);
  } catch (error) {
    manifest.error = describeError(error);
    deps.logger.error('backup job failed', { vault: target.name, runId: job.runId, ...manifest.error });
  }
  return finish(manifest, vault, deps);
}

/**
 * Objects that ran out of the job's time are handed to a follow-up job at once, rather than waiting for the next
 * scheduled run (hours away); a follow-up's outcome supersedes the failure in the run's summary. Bounded depth, so
 * an object that can never finish in time does not loop.
 */
async function followUpMissedObjects(
  job: BackupJob,
  manifest: RunManifest,
  deps: BackupDependencies,
  dispatch: DispatchJob,
): Promise<void> {
  const missed = manifest.entries
    .filter((e) => e.outcome.status === 'failed' && e.outcome.code === 'DeadlineExceeded')
    .map(({ type, name }) => ({ type, name }));
  const followUp = (job.followUp ?? 0) + 1;
  if (missed.length === 0) return;
  if (followUp > MAX_FOLLOW_UPS) {
    deps.logger.warn('objects missed the deadline of the last follow-up; the next run backs them up', {
      vault: manifest.vault,
      runId: job.runId,
      objects: missed.length,
    });
    return;
  }
  const { chunk: _chunk, ...rest } = job;
  for (let start = 0; start < missed.length; start += MAX_JOB_OBJECTS) {
    await dispatch({
      ...rest,
      objects: missed.slice(start, start + MAX_JOB_OBJECTS),
      followUp,
      enqueuedAt: deps.clock.now().toISOString(),
    });
  }
  deps.logger.info('objects that missed the deadline go to a follow-up job', {
    vault: manifest.vault,
    runId: job.runId,
    objects: missed.length,
    followUp,
  });
}

async function listChunk(
  job: BackupJob,
  target: VaultTarget,
  vault: VaultPort,
  settings: BackupSettings,
  manifest: RunManifest,
  dispatch: DispatchJob,
): Promise<{ type: ObjectType; name: string }[]> {
  const type = job.chunk?.type ?? target.types[0]!;
  const sequence = job.chunk?.sequence ?? 0;
  manifest.chunk = { type, sequence, lastPage: false };
  const page = await vault.listObjects(type, {
    continuationToken: job.chunk?.continuationToken,
    pageSize: settings.pageSize,
  });
  const nextType = target.types[target.types.indexOf(type) + 1];
  const lastPage = page.continuationToken === undefined;
  if (!lastPage) {
    await dispatch({ ...job, chunk: { type, sequence: sequence + 1, continuationToken: page.continuationToken } });
  } else if (nextType) {
    await dispatch({ ...job, chunk: { type: nextType, sequence: 0 } });
  }
  manifest.chunk.lastPage = lastPage;
  return page.items.filter((object) => isSelectedByPolicy(object, target)).map(({ name }) => ({ type, name }));
}

interface ObjectContext {
  job: BackupJob;
  target: VaultTarget;
  vault: VaultPort;
  deps: BackupDependencies;
  settings: BackupSettings;
}

async function backupObject(context: ObjectContext, type: ObjectType, name: string): Promise<ManifestEntry> {
  const { job, target, vault, deps, settings } = context;
  const started = Date.now();
  const entry = (versionCount: number, outcome: ManifestEntry['outcome'], warning?: string): ManifestEntry => ({
    type,
    name,
    versionCount,
    durationMs: Date.now() - started,
    outcome,
    ...(warning ? { warning } : {}),
  });
  let versionCount = 0;
  try {
    // Versions are read before the backup: if a version lands in between, the stored blob is newer than its
    // fingerprint says, so the next run stores it again. It can only over-store, never miss a version.
    const versions = await vault.listVersions(type, name);
    // A new version of a certificate's own key or secret (an event snapshot) means the certificate changed: Key Vault
    // backs those up only through the certificate, so that is what is stored.
    if (type !== 'certificate' && versions.some((v) => v.managed)) return backupObject(context, 'certificate', name);
    versionCount = versions.length;
    const warning = versionWarning(versionCount);
    if (versionCount > MAX_BACKUP_VERSIONS) {
      throw new KvGuardError(
        'TooManyVersions',
        `${type} ${name} has ${versionCount} versions; Key Vault backs up at most ${MAX_BACKUP_VERSIONS}`,
      );
    }
    const policy = type === 'certificate' ? await vault.certificatePolicy(name) : undefined;
    const fingerprint = versionsFingerprint(versions, policy);
    const latest = job.full ? undefined : await deps.store.latestBackup(target.name, type, name);
    const refresh = latest !== undefined && mustRefresh(latest, target, deps.clock.now());
    if (latest && latest.fingerprint === fingerprint && !refresh)
      return entry(versionCount, { status: 'unchanged', blobName: latest.blobName }, warning);
    const bytes = await vault.backup(type, name);
    const record = await deps.store.putBackup(
      {
        vault: target.name,
        type,
        name,
        fingerprint,
        sha256: sha256Hex(bytes),
        size: bytes.byteLength,
        versionCount,
        takenAt: deps.clock.now(),
        runId: job.runId,
        kvguardVersion: settings.kvguardVersion,
      },
      bytes,
    );
    await recordInventory(deps.inventory, record.blobName, describeObject(type, name, versions), deps.logger);
    return entry(
      versionCount,
      {
        status: 'stored',
        blobName: record.blobName,
        sha256: record.sha256,
        size: record.size,
        ...(refresh && latest.fingerprint === fingerprint ? { refreshed: true } : {}),
      },
      warning,
    );
  } catch (error) {
    const { code, reason } = describeError(error);
    const level = isKvGuardError(error, 'TooManyVersions', 'AlreadyExists', 'NotFound') ? 'warn' : 'error';
    deps.logger[level]('object backup failed', { vault: target.name, type, name, code, reason });
    return entry(versionCount, { status: 'failed', code, reason }, versionWarning(versionCount));
  }
}

function versionWarning(versionCount: number): string | undefined {
  return versionCount >= VERSION_WARNING_THRESHOLD
    ? `${versionCount} versions: Key Vault refuses to back up objects with more than ${MAX_BACKUP_VERSIONS}`
    : undefined;
}

async function finish(manifest: RunManifest, vault: VaultPort, deps: BackupDependencies): Promise<BackupJobResult> {
  const finished = deps.clock.now();
  manifest.finishedAt = finished.toISOString();
  const stats = manifest.stats;
  tallyEntries(stats, manifest.entries);
  stats.durationMs = finished.getTime() - new Date(manifest.startedAt).getTime();
  Object.assign(stats, vault.stats());
  const manifestBlob = await deps.store.putManifest(manifest);
  report(manifest, deps);
  if (manifest.error || stats.failed > 0) await raiseBackupFailed(manifest, deps);
  return { manifest, manifestBlob };
}

function report(manifest: RunManifest, deps: BackupDependencies): void {
  const properties = {
    vault: manifest.vault,
    runId: manifest.runId,
    trigger: manifest.trigger,
    chunk: manifest.chunk ? `${manifest.chunk.type}-${manifest.chunk.sequence}` : 'objects',
    outcome: manifest.error ? manifest.error.code : 'completed',
  };
  const { stored, unchanged, failed, bytes, durationMs, throttled, maxConcurrency } = manifest.stats;
  const measurements = { stored, unchanged, failed, bytes, durationMs, throttled, maxConcurrency };
  deps.telemetry.event('kvguard.BackupJob', properties, measurements);
  for (const [name, value] of Object.entries(measurements))
    deps.telemetry.metric(`kvguard.backup.${name}`, value, { vault: manifest.vault });
  for (const entry of manifest.entries.filter((e) => e.warning)) {
    deps.telemetry.event(
      'kvguard.VersionLimitNear',
      { vault: manifest.vault, type: entry.type, name: entry.name },
      { versions: entry.versionCount },
    );
  }
  deps.logger.info('backup job finished', { ...properties, stored, unchanged, failed, bytes, durationMs, throttled });
}

async function raiseBackupFailed(manifest: RunManifest, deps: BackupDependencies): Promise<void> {
  const failures = manifest.entries.filter((e) => e.outcome.status === 'failed').map((e) => `${e.type}/${e.name}`);
  await deps.alerts.raise({
    type: ALERT_TYPES.backupFailed,
    severity: manifest.error ? 'critical' : 'warning',
    subject: `${manifest.vault}`,
    summary: manifest.error
      ? `Backup of vault ${manifest.vault} failed: ${manifest.error.code}: ${manifest.error.reason}`
      : `Backup of vault ${manifest.vault} could not store ${failures.length} object(s): ${failures.slice(0, 10).join(', ')}`,
    dedupeKey: `backup-failed/${manifest.vault}/${manifest.runId}/${manifest.chunk?.type ?? 'objects'}-${manifest.chunk?.sequence ?? 0}`,
    occurredAt: manifest.finishedAt,
    data: { vault: manifest.vault, runId: manifest.runId, error: manifest.error, failedObjects: failures },
  });
}
