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
 * thrown, so the message is delivered again; after the last page of each object type, the run summary is recorded
 * (when every chunk has reported by then, else by a check-back).
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
): Promise<BackupJobResult | undefined> {
  if (job.summarise) {
    await summariseLater(job, job.summarise.attempt, target, deps.store, dispatch);
    return undefined;
  }
  const result = await runBackupJob(job, target, deps, settings, dispatch);
  const { manifest } = result;
  if (manifest.error && isRetryableJobFailure(manifest)) {
    throw new KvGuardError(
      manifest.error.code as ErrorCode,
      `backup of ${target.name} will be retried: ${manifest.error.reason}`,
    );
  }
  // Each object type's listing ends on its own last page, in any order: the last to end finds the run complete.
  if (manifest.chunk?.lastPage) {
    await summariseLater(job, 0, target, deps.store, dispatch);
  }
  return result;
}

/** Check-backs of an incomplete run, and how far apart: pages that run side by side finish in any order. */
const SUMMARY_ATTEMPTS = 20;
const SUMMARY_RECHECK_SECONDS = 15;

/** Records the run summary when every page has reported; otherwise sends a check-back for later (bounded). */
async function summariseLater(
  job: BackupJob,
  attempt: number,
  target: VaultTarget,
  store: BackupStore,
  dispatch: DispatchJob,
): Promise<void> {
  const summary = await recordRunSummary(await manifestsOfRun(store, target.name, job.runId), target, store);
  if (summary.complete || attempt >= SUMMARY_ATTEMPTS) return;
  const { chunk: _chunk, objects: _objects, ...run } = job;
  await dispatch({ ...run, summarise: { attempt: attempt + 1 } }, { delaySeconds: SUMMARY_RECHECK_SECONDS });
}

/** Progress of an in-process run: objects done so far and objects discovered so far. */
export type ProgressListener = (done: number, discovered: number) => void;

/** Listing pages of one vault in process at once by default: enough that the vault's pace, not the listing, limits. */
const DEFAULT_CHUNK_CONCURRENCY = 16;

/**
 * Backs a whole vault up in this process (the CLI's `kvguard backup`): runs the same jobs the queue would. Each job
 * dispatches the next page before working on its own, and a dispatched job starts at once (up to
 * `chunkConcurrency` jobs), so every page is in flight within the vault's pace. Answers the run summary.
 */
export async function backupVaultNow(
  target: VaultTarget,
  deps: BackupDependencies,
  settings: BackupSettings,
  options: { full?: boolean; chunkConcurrency?: number; onProgress?: ProgressListener } = {},
): Promise<RunSummary> {
  const limit = options.chunkConcurrency ?? DEFAULT_CHUNK_CONCURRENCY;
  const pending: BackupJob[] = [firstBackupJob(target, deps.clock, { full: options.full })];
  const manifests: (RunManifest & { blobName: string })[] = [];
  let running = 0;
  let done = 0;
  let failure: Error | undefined;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (pending.length > 0 && running < limit) {
        const job = pending.shift()!;
        running += 1;
        runBackupJob(job, target, deps, settings, async (next) => {
          pending.push(next);
          pump();
        })
          .then((result) => {
            manifests.push({ ...result.manifest, blobName: result.manifestBlob });
            done += result.manifest.entries.length;
            options.onProgress?.(done, done + (pending.length + running - 1) * settings.pageSize);
          })
          .catch((error: unknown) => (failure ??= error instanceof Error ? error : new Error(String(error))))
          .finally(() => {
            running -= 1;
            pump();
            if (running === 0 && pending.length === 0) resolve();
          });
      }
    };
    pump();
  });
  if (failure) throw failure;
  return recordRunSummary(manifests, target, deps.store);
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
