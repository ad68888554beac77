import { mapWithConcurrency } from '../concurrency';
import {
  emptyRunStats,
  tallyEntries,
  type ManifestEntry,
  type RunManifest,
  type RunStats,
  type VaultTarget,
} from '../domain';
import { isKvGuardError, KvGuardError, type ErrorCode } from '../errors';
import type { BackupJob } from '../jobs';
import type { BackupStore, Clock, JobQueue } from '../ports';
import { newRunId, runStartFromId } from './fingerprint';
import {
  isRetryableJobFailure,
  runBackupJob,
  type BackupDependencies,
  type BackupJobResult,
  type BackupSettings,
  type DispatchJob,
} from './backup-vault';

/** A whole run of one vault, assembled from its job manifests. */
export interface RunSummary {
  runId: string;
  vault: string;
  vaultUrl: string;
  trigger: RunManifest['trigger'];
  full: boolean;
  startedAt: string;
  finishedAt: string;
  /** Every chunk of every object type has reported. */
  complete: boolean;
  /** Complete, and no job failed as a whole (objects may still have failed individually). */
  succeeded: boolean;
  stats: RunStats;
  failures: { type: string; name: string; code: string; reason: string }[];
  warnings: { type: string; name: string; warning: string }[];
  errors: { code: string; reason: string }[];
  /** Blob names of the job manifests. */
  manifests: string[];
  /** Blob name of the run summary manifest, when this call wrote it. */
  summaryBlob?: string;
}

/**
 * Whether the chunk manifests cover the whole vault: for each object type, pages 0…k are all there and page k was
 * that type's last. Retried jobs may report a chunk twice; that is harmless.
 */
export function isRunComplete(
  manifests: readonly Pick<RunManifest, 'chunk' | 'error'>[],
  types: readonly string[],
): boolean {
  return types.every((type) => {
    const chunks = manifests.filter((m) => m.chunk?.type === type && !m.error).map((m) => m.chunk!);
    const last = chunks.find((c) => c.lastPage);
    if (!last) return false;
    const seen = new Set(chunks.map((c) => c.sequence));
    return Array.from({ length: last.sequence + 1 }, (_, i) => i).every((i) => seen.has(i));
  });
}

/** Combines the manifests of one run into its summary (a stored summary manifest, when present, is the run). */
export function summariseRun(
  all: readonly (RunManifest & { blobName?: string })[],
  target: Pick<VaultTarget, 'types'>,
): RunSummary {
  const stored = all.find((m) => m.scope === 'summary');
  const manifests = stored ? [stored] : all;
  const first = manifests[0]!;
  const stats = emptyRunStats();
  const latestEntries = new Map<string, ManifestEntry>();
  for (const manifest of [...manifests].sort((a, b) => a.finishedAt.localeCompare(b.finishedAt))) {
    for (const entry of manifest.entries) latestEntries.set(`${entry.type}/${entry.name.toLowerCase()}`, entry);
    stats.throttled += manifest.stats.throttled;
    stats.maxConcurrency = Math.max(stats.maxConcurrency, manifest.stats.maxConcurrency);
  }
  tallyEntries(stats, latestEntries.values());
  const startedAt = manifests.map((m) => m.startedAt).sort()[0]!;
  const finishedAt = manifests
    .map((m) => m.finishedAt)
    .sort()
    .at(-1)!;
  stats.durationMs = new Date(finishedAt).getTime() - new Date(startedAt).getTime();
  const entries = [...latestEntries.values()];
  const errors = manifests.flatMap((m) => (m.error ? [m.error] : []));
  const complete = first.scope === 'chunk' ? isRunComplete(manifests, target.types) : errors.length === 0;
  return {
    runId: first.runId,
    vault: first.vault,
    vaultUrl: first.vaultUrl,
    trigger: first.trigger,
    full: first.full,
    startedAt,
    finishedAt,
    complete,
    succeeded: complete && errors.length === 0,
    stats,
    failures: entries.flatMap((e) =>
      e.outcome.status === 'failed'
        ? [{ type: e.type, name: e.name, code: e.outcome.code, reason: e.outcome.reason }]
        : [],
    ),
    warnings: entries.flatMap((e) => (e.warning ? [{ type: e.type, name: e.name, warning: e.warning }] : [])),
    errors,
    manifests: manifests.flatMap((m) => (m.blobName ? [m.blobName] : [])),
  };
}

/** Starts a fresh run of a vault: the first job of the chain. */
export function firstBackupJob(
  target: VaultTarget,
  clock: Clock,
  options: { full?: boolean; trigger?: BackupJob['trigger'] } = {},
): BackupJob {
  const now = clock.now();
  return {
    kind: 'backup',
    runId: newRunId(now),
    vaultUrl: target.url,
    trigger: options.trigger ?? 'manual',
    full: options.full ?? false,
    enqueuedAt: now.toISOString(),
  };
}

/** How far the clocks of two Function instances may disagree. */
export const CLOCK_SKEW_MARGIN_MS = 5 * 60_000;

/** Queue messages sent at once by the timer's fan-out. */
const SCHEDULE_SEND_CONCURRENCY = 8;

/** The timer's fan-out: one job per configured vault on the queue; answers the jobs sent. */
export async function scheduleBackups(
  targets: readonly VaultTarget[],
  queue: JobQueue<BackupJob>,
  clock: Clock,
): Promise<BackupJob[]> {
  const jobs = targets.map((target) => firstBackupJob(target, clock, { trigger: 'schedule' }));
  // Vaults are independent: send every job, then report the first failure so the timer's invocation fails loudly.
  const failures = await mapWithConcurrency(jobs, SCHEDULE_SEND_CONCURRENCY, (job) =>
    queue.send(job).then(
      () => undefined,
      (error: unknown) => ({ error }),
    ),
  );
  const failure = failures.find((f) => f !== undefined);
  if (failure) throw failure.error;
  return jobs;
}

/**
 * Runs one backup job taken from the queue. A job that failed as a whole in a way a later attempt may get past is
 * thrown, so the message is delivered again; after the last page of the vault's last object type, the run summary is
 * recorded (when every chunk has reported by then).
 * @param job - the validated queue message
 * @param target - the configured vault it names
 * @param deps - vaults, store, alerts, telemetry, logger, clock
 * @param settings - page size, deadline, concurrency, version
 * @param dispatch - sends the follow-up job (the next page or object type)
 */
export async function runQueuedBackupJob(
  job: BackupJob,
  target: VaultTarget,
  deps: BackupDependencies,
  settings: BackupSettings,
  dispatch: DispatchJob,
): Promise<BackupJobResult> {
  const result = await runBackupJob(job, target, deps, settings, dispatch);
  const { manifest } = result;
  if (manifest.error && isRetryableJobFailure(manifest)) {
    throw new KvGuardError(
      manifest.error.code as ErrorCode,
      `backup of ${target.name} will be retried: ${manifest.error.reason}`,
    );
  }
  if (manifest.chunk?.lastPage && manifest.chunk.type === target.types.at(-1)) {
    await recordRunSummary(await manifestsOfRun(deps.store, target.name, job.runId), target, deps.store);
  }
  return result;
}

/** Progress of an in-process run: objects done so far and objects discovered so far. */
export type ProgressListener = (done: number, discovered: number) => void;

/**
 * Backs a whole vault up in this process (the CLI's `kvguard backup`): runs the same jobs the queue would, at most
 * `chunkConcurrency` at a time, and answers the run summary.
 */
export async function backupVaultNow(
  target: VaultTarget,
  deps: BackupDependencies,
  settings: BackupSettings,
  options: { full?: boolean; chunkConcurrency?: number; onProgress?: ProgressListener } = {},
): Promise<RunSummary> {
  const pending: BackupJob[] = [firstBackupJob(target, deps.clock, { full: options.full })];
  const results: BackupJobResult[] = [];
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let job = pending.shift(); job; job = pending.shift()) {
      const result = await runBackupJob(job, target, deps, settings, async (next) => {
        pending.push(next);
      });
      results.push(result);
      done += result.manifest.entries.length;
      options.onProgress?.(done, done + pending.length * settings.pageSize);
    }
  };
  // Each job dispatches its successor before processing, so a second worker always finds work on large vaults.
  const workers = new Set<Promise<void>>();
  while (pending.length > 0 || workers.size > 0) {
    while (pending.length > 0 && workers.size < (options.chunkConcurrency ?? 2)) {
      const running: Promise<void> = worker().finally(() => workers.delete(running));
      workers.add(running);
    }
    await Promise.race(workers);
  }
  return recordRunSummary(
    results.map((r) => ({ ...r.manifest, blobName: r.manifestBlob })),
    target,
    deps.store,
  );
}

/**
 * Writes the run summary once every chunk has reported (create-only, so when two last chunks race, one write wins
 * and the other is refused harmlessly). Answers the summary, complete or not.
 */
export async function recordRunSummary(
  manifests: (RunManifest & { blobName?: string })[],
  target: VaultTarget,
  store: BackupStore,
): Promise<RunSummary> {
  const summary = summariseRun(manifests, target);
  if (!summary.complete || manifests.length < 2) return summary;
  try {
    summary.summaryBlob = await store.putManifest({
      runId: summary.runId,
      vault: summary.vault,
      vaultUrl: summary.vaultUrl,
      trigger: summary.trigger,
      full: summary.full,
      scope: 'summary',
      startedAt: summary.startedAt,
      finishedAt: summary.finishedAt,
      entries: manifests.flatMap((m) => m.entries),
      stats: summary.stats,
    });
  } catch (error) {
    if (!isKvGuardError(error, 'AlreadyExists')) throw error;
  }
  return summary;
}

/** The manifests of one run, read from the store (newest first until the run's start). */
export async function manifestsOfRun(
  store: BackupStore,
  vault: string,
  runId: string,
): Promise<(RunManifest & { blobName: string })[]> {
  const found: (RunManifest & { blobName: string })[] = [];
  // Manifests are listed newest first by the time their job started, and no job of a run starts before the run
  // (whose start its id carries): the first manifest older than that, less a margin for clock skew between
  // instances, ends the search.
  const start = runStartFromId(runId);
  const runStart = start && new Date(start.getTime() - CLOCK_SKEW_MARGIN_MS).toISOString();
  for await (const manifest of store.listManifests(vault)) {
    if (manifest.runId === runId) found.push(manifest);
    else if (runStart ? manifest.startedAt < runStart : manifest.runId < runId && found.length > 0) break;
  }
  return found;
}
