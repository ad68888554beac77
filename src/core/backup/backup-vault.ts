import { ALERT_TYPES } from '../alerts';
import {
  MAX_BACKUP_VERSIONS,
  VERSION_WARNING_THRESHOLD,
  tallyEntries,
  emptyRunStats,
  type BackupRecord,
  type CertificatePolicyState,
  type ManifestEntry,
  type ObjectSummary,
  type ObjectType,
  type ObjectVersion,
  type RunManifest,
  type VaultTarget,
} from '../domain';
import { describeError, isKvGuardError, KvGuardError, RETRYABLE_CODES, type ErrorCode } from '../errors';
import { MAX_FOLLOW_UPS, MAX_JOB_OBJECTS, type BackupJob } from '../jobs';
import { mapWithConcurrency } from '../concurrency';
import type { Alerts, BackupStore, Clock, Logger, Telemetry, VaultPort, VaultPortFactory } from '../ports';
import { listingFingerprint, sha256Hex, versionsFingerprint } from './fingerprint';
import { describeObject, recordInventory, type InventoryStore } from '../browse/inventory';
import { mustRefresh } from '../policy/refresh';
import { isSelectedByPolicy } from './selection';
import {
  portableExportBeside,
  portableExportIfMissing,
  type PortableBackupContext,
  type PortableBackupDependencies,
} from '../portable/backup-portable';

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
  /** Portable exports (store, values, KEK), when a KEK is configured; only vaults with `portable` on use them. */
  portable?: PortableBackupDependencies;
}

/** Tunables of a backup job. */
export interface BackupSettings {
  /** Objects per listing page (Key Vault answers at most 25). */
  pageSize: number;
  /** How long one job may take before retries stop. */
  deadlineSeconds: number;
  /** Objects processed at once within a page; the vault adapter bounds the actual Key Vault calls. */
  objectConcurrency: number;
  /**
   * Days after which an object whose listing has not changed is backed up again anyway (spread over the second
   * half of the period by name): catches edits to older versions, which do not show in the listing.
   */
  refreshDays: number;
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
export type DispatchJob = (job: BackupJob, options?: { delaySeconds?: number }) => Promise<void>;

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
  const deadline = new Date(started.getTime() + settings.deadlineSeconds * 1000);
  const vault = deps.vaults.open(target.url, { deadline });
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
    const portable: PortableBackupContext = {
      portable: deps.portable,
      target,
      vault,
      clock: deps.clock,
      logger: deps.logger,
      open: { deadline },
    };
    const context = { job, target, vault, deps, settings, portable };
    if (job.objects) {
      manifest.entries = await mapWithConcurrency(job.objects, settings.objectConcurrency, (object) =>
        backupObject(context, object.type, object.name),
      );
    } else {
      const listed = await listChunk(job, target, vault, settings, manifest, dispatch);
      manifest.entries = await mapWithConcurrency(listed, settings.objectConcurrency, (summary) =>
        backupListedObject(context, summary),
      );
    }
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
): Promise<ObjectSummary[]> {
  const type = job.chunk?.type ?? target.types[0]!;
  const sequence = job.chunk?.sequence ?? 0;
  manifest.chunk = { type, sequence, lastPage: false };
  const page = await vault.listObjects(type, {
    continuationToken: job.chunk?.continuationToken,
    pageSize: settings.pageSize,
  });
  const lastPage = page.continuationToken === undefined;
  if (!lastPage) {
    await dispatch({ ...job, chunk: { type, sequence: sequence + 1, continuationToken: page.continuationToken } });
  }
  // The run's first job starts the other object types' listings too, once its own has answered: each type's pages
  // follow one another, so listing the types side by side halves the chain that feeds the vault's pace.
  if (!job.chunk) {
    for (const other of target.types.filter((t) => t !== type))
      await dispatch({ ...job, chunk: { type: other, sequence: 0 } });
  }
  manifest.chunk.lastPage = lastPage;
  return page.items.filter((object) => isSelectedByPolicy(object, target));
}

interface ObjectContext {
  job: BackupJob;
  target: VaultTarget;
  vault: VaultPort;
  deps: BackupDependencies;
  settings: BackupSettings;
  portable: PortableBackupContext;
}

/** How a listed object is handled, from its listing and its newest backup. */
type ListedDecision =
  | { kind: 'unchanged'; latest: BackupRecord }
  /** Back up without listing versions: what the versions are is known (or not needed) from the newest backup. */
  | { kind: 'backup'; latest?: BackupRecord }
  /** List the versions first: the object changed, or it nears Key Vault's version limit. */
  | { kind: 'inspect'; listingUnchanged: boolean; refresh?: boolean };

/**
 * Backs up one object of a listing page. Its listing (current version's `updated`, enabled, tags …) decides, so an
 * unchanged object costs no Key Vault call and a full run costs one backup call per object; versions are listed only
 * for objects that changed (or that near the 500-version limit), where the count and fingerprint must be fresh.
 */
async function backupListedObject(context: ObjectContext, summary: ObjectSummary): Promise<ManifestEntry> {
  const { job, target, deps, settings } = context;
  const { type, name } = summary;
  // A certificate's own key and secret are backed up through the certificate (Key Vault refuses them alone).
  if (summary.managed) return backupObject(context, type, name);
  const started = Date.now();
  try {
    // A certificate's policy is not on its list page and a policy update moves nothing that is: it is read here (one
    // call per certificate, on full runs too, so the stored token is the one the next incremental run compares).
    const policy = type === 'certificate' ? await context.vault.certificatePolicy(name) : undefined;
    const listing = listingFingerprint(summary, policy);
    // A full run stores everything again: it needs no catalog lookup, and Key Vault itself refuses (and the run
    // reports) an object past 500 versions; the version-count warning comes from the incremental runs.
    const latest = job.full ? undefined : await deps.store.latestBackup(target.name, type, name);
    const decision = decide(summary, listing, latest, job.full, settings, deps.clock.now(), target);
    if (decision.kind === 'unchanged') {
      const portable = await portableExportIfMissing(context.portable, decision.latest);
      return {
        type,
        name,
        versionCount: decision.latest.versionCount,
        durationMs: Date.now() - started,
        outcome: { status: 'unchanged', blobName: decision.latest.blobName },
        ...warningOf(decision.latest.versionCount),
        ...(portable ? { portable } : {}),
      };
    }
    if (decision.kind === 'inspect')
      return backupObject(context, type, name, {
        listing,
        listingUnchanged: decision.listingUnchanged,
        policy,
        ...(decision.refresh ? { refresh: true } : {}),
      });
    const versionCount = decision.latest?.versionCount ?? 0;
    // The versions were not listed: the blob is named and fingerprinted by what the listing showed.
    const fingerprint = listing;
    return await store(context, {
      type,
      name,
      listing,
      fingerprint,
      versionCount,
      versionsCounted: false,
      policy,
      started,
    });
  } catch (error) {
    return failedEntry(context, { type, name, versionCount: 0, started }, error);
  }
}

/** The decision for one listed object (see {@link backupListedObject}). */
function decide(
  summary: ObjectSummary,
  listing: string,
  latest: BackupRecord | undefined,
  full: boolean,
  settings: BackupSettings,
  now: Date,
  target: VaultTarget,
): ListedDecision {
  if (!latest) return full ? { kind: 'backup' } : { kind: 'inspect', listingUnchanged: false };
  const sameListing = latest.listing === listing;
  // Near Key Vault's version limit the count must be fresh: list the versions (the guard).
  if (latest.versionCount >= VERSION_GUARD_FROM) return { kind: 'inspect', listingUnchanged: sameListing && !full };
  if (full) return { kind: 'backup', latest };
  // Changed: list its versions before the backup call, so the catalog's count, fingerprint and inventory describe
  // what the blob holds (a changed object costs two calls; an unchanged one none).
  if (!sameListing) return { kind: 'inspect', listingUnchanged: false };
  // Changed too close to its backup for the listing's one-second `updated` to tell: compare the versions instead.
  if (changedAroundBackup(summary, latest)) return { kind: 'inspect', listingUnchanged: true };
  // The periodic deep check: count the versions again and store a fresh backup (edits to older versions).
  if (refreshDue(latest, settings.refreshDays, now)) return { kind: 'inspect', listingUnchanged: false };
  // Never the last copy: before the newest backup can age out of retention, store it again (marked refreshed).
  if (mustRefresh(latest, target, now)) return { kind: 'inspect', listingUnchanged: true, refresh: true };
  return { kind: 'unchanged', latest };
}

/**
 * From this many versions on, a changed object's versions are counted on every change. It leaves 100 versions of
 * room below the warning (400) for the versions a busy object gains between two counts (a refresh period at most).
 */
const VERSION_GUARD_FROM = 300;

/**
 * Key Vault's `updated` has one-second resolution: a change in the same second as the listing that a backup was
 * taken after leaves the listing as it was. Such a backup is not trusted to be current.
 */
function changedAroundBackup(summary: ObjectSummary, latest: BackupRecord): boolean {
  return summary.updatedOn !== undefined && summary.updatedOn.getTime() + 2_000 > latest.takenAt.getTime();
}

/** Whether an unchanged object's newest backup is old enough to be taken again (spread by name over half the period). */
function refreshDue(latest: BackupRecord, refreshDays: number, now: Date): boolean {
  const spread = Number.parseInt(sha256Hex(`${latest.type}/${latest.name.toLowerCase()}`).slice(0, 8), 16) / 0xffffffff;
  const ageLimitMs = refreshDays * 86_400_000 * (1 - spread / 2);
  return now.getTime() - latest.takenAt.getTime() >= ageLimitMs;
}

function warningOf(versionCount: number): { warning?: string } {
  const warning = versionWarning(versionCount);
  return warning ? { warning } : {};
}

/** Backs an object up and stores the blob with its catalog entry. */
async function store(
  context: ObjectContext,
  object: {
    type: ObjectType;
    name: string;
    listing?: string;
    fingerprint: string;
    versionCount: number;
    versionsCounted?: false;
    /** The versions listed before the backup, recorded as the backup's inventory. */
    versions?: readonly ObjectVersion[];
    /** A certificate's policy, when already read (the portable export needs it). */
    policy?: CertificatePolicyState;
    refreshed?: boolean;
    started: number;
  },
): Promise<ManifestEntry> {
  const { job, target, vault, deps, settings } = context;
  const { type, name, versionCount } = object;
  const bytes = await vault.backup(type, name);
  const record = await deps.store.putBackup(
    {
      vault: target.name,
      type,
      name,
      fingerprint: object.fingerprint,
      ...(object.listing ? { listing: object.listing } : {}),
      sha256: sha256Hex(bytes),
      size: bytes.byteLength,
      versionCount,
      ...(object.versionsCounted === false ? { versionsCounted: false as const } : {}),
      takenAt: deps.clock.now(),
      runId: job.runId,
      kvguardVersion: settings.kvguardVersion,
    },
    bytes,
  );
  if (object.versions)
    await recordInventory(deps.inventory, record.blobName, describeObject(type, name, object.versions), deps.logger);
  const portable = await portableExportBeside(context.portable, record, {
    versions: object.versions,
    policy: object.policy,
  });
  return {
    type,
    name,
    versionCount,
    durationMs: Date.now() - object.started,
    outcome: {
      status: 'stored',
      blobName: record.blobName,
      sha256: record.sha256,
      size: record.size,
      ...(object.refreshed ? { refreshed: true } : {}),
    },
    ...warningOf(versionCount),
    ...(portable ? { portable } : {}),
  };
}

/** The manifest entry of an object that could not be backed up (logged; the run goes on). */
function failedEntry(
  context: ObjectContext,
  object: { type: ObjectType; name: string; versionCount: number; started: number },
  error: unknown,
): ManifestEntry {
  const { type, name, versionCount } = object;
  const { code, reason } = describeError(error);
  const level = isKvGuardError(error, 'TooManyVersions', 'AlreadyExists', 'NotFound') ? 'warn' : 'error';
  context.deps.logger[level]('object backup failed', { vault: context.target.name, type, name, code, reason });
  return {
    type,
    name,
    versionCount,
    durationMs: Date.now() - object.started,
    outcome: { status: 'failed', code, reason },
    ...warningOf(versionCount),
  };
}

/** What a listing already said about an object whose versions are listed before its backup. */
interface ListedContext {
  listing: string;
  /** True when the listing is unchanged (the version guard): matching versions then mean "unchanged". */
  listingUnchanged: boolean;
  /** A certificate's policy, already read for its listing token. */
  policy?: CertificatePolicyState;
  /** Its newest backup is due to be stored again before it ages out of retention (see `mustRefresh`). */
  refresh?: boolean;
}

/**
 * Backs up one object after listing its versions (event snapshots, and listed objects that changed or near the
 * version limit). An event snapshot or an unchanged listing whose versions match the newest backup is `unchanged`
 * (unless the job is `full`); an object whose listing changed is stored.
 */
async function backupObject(
  context: ObjectContext,
  type: ObjectType,
  name: string,
  listed?: ListedContext,
): Promise<ManifestEntry> {
  const { job, target, vault, deps } = context;
  const started = Date.now();
  let versionCount = 0;
  try {
    // Versions are read before the backup: if a version lands in between, the stored blob is newer than its
    // fingerprint says, so the next run stores it again. It can only over-store, never miss a version.
    const versions = await vault.listVersions(type, name);
    // A new version of a certificate's own key or secret (an event snapshot) means the certificate changed: Key Vault
    // backs those up only through the certificate, so that is what is stored.
    if (type !== 'certificate' && versions.some((v) => v.managed)) return backupObject(context, 'certificate', name);
    versionCount = versions.length;
    if (versionCount > MAX_BACKUP_VERSIONS) {
      throw new KvGuardError(
        'TooManyVersions',
        `${type} ${name} has ${versionCount} versions; Key Vault backs up at most ${MAX_BACKUP_VERSIONS}`,
      );
    }
    const policy = type === 'certificate' ? (listed?.policy ?? (await vault.certificatePolicy(name))) : undefined;
    const fingerprint = versionsFingerprint(versions, policy);
    const mayBeUnchanged = !job.full && (listed === undefined || listed.listingUnchanged);
    const latest = mayBeUnchanged ? await deps.store.latestBackup(target.name, type, name) : undefined;
    // Stored again although unchanged: its newest backup would otherwise age out of the vault's retention.
    const refresh = latest !== undefined && (listed?.refresh ?? mustRefresh(latest, target, deps.clock.now()));
    if (latest && latest.fingerprint === fingerprint && !refresh) {
      const portable = await portableExportIfMissing(context.portable, latest);
      return {
        type,
        name,
        versionCount,
        durationMs: Date.now() - started,
        outcome: { status: 'unchanged', blobName: latest.blobName },
        ...warningOf(versionCount),
        ...(portable ? { portable } : {}),
      };
    }
    const refreshed = refresh && latest.fingerprint === fingerprint;
    return await store(context, {
      type,
      name,
      listing: listed?.listing,
      fingerprint,
      versionCount,
      versions,
      policy,
      refreshed,
      started,
    });
  } catch (error) {
    return failedEntry(context, { type, name, versionCount, started }, error);
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
  if (manifest.entries.some((e) => e.portable?.status === 'failed')) await raisePortableExportFailed(manifest, deps);
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

/** Portable exports that failed beside stored opaque backups: critical, since the off-site copy is missing. */
async function raisePortableExportFailed(manifest: RunManifest, deps: BackupDependencies): Promise<void> {
  const failed = manifest.entries.filter((e) => e.portable?.status === 'failed');
  const first = failed[0]!.portable!;
  await deps.alerts.raise({
    type: ALERT_TYPES.portableExportFailed,
    severity: 'critical',
    subject: manifest.vault,
    summary: `Portable export of ${failed.length} object(s) of vault ${manifest.vault} failed (${first.code}: ${first.reason}); their opaque backups are stored, but no copy restorable in another geography was made: ${failed
      .slice(0, 10)
      .map((e) => `${e.type}/${e.name}`)
      .join(', ')}`,
    dedupeKey: `portable-failed/${manifest.vault}/${manifest.runId}/${manifest.chunk?.type ?? 'objects'}-${manifest.chunk?.sequence ?? 0}`,
    occurredAt: manifest.finishedAt,
    data: {
      vault: manifest.vault,
      runId: manifest.runId,
      failedObjects: failed.map((e) => ({ type: e.type, name: e.name, code: e.portable!.code })),
    },
  });
}
