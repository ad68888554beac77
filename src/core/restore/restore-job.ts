import { describeError, isKvGuardError, KvGuardError } from '../errors';
import type { RestoreJob } from '../jobs';
import type { Logger, StateStore } from '../ports';
import { preflight, refusesWholePlan, selectBackups } from './plan-restore';
import { auditRestoreStarted, finishRestore } from './restore-audit';
import { executePlan, type ObjectResult } from './restore-objects';
import { conflictsOf, finalStatus, FINAL_STATUSES, withResults, type RestoreReport } from './restore-report';
import type { RestoreRequest } from './restore-request';
import { executionSettings, type RestoreDependencies, type RestoreSettings } from './restore-settings';

/** A queued restore as the state store keeps it: the request, who asked, and the report so far. */
export interface RestoreJobState {
  principal: string;
  /** The request, `asOf` pinned to when it was accepted so the job restores what was planned then. */
  request: RestoreRequest;
  /** Job invocations so far. */
  attempts: number;
  /** While an invocation works on the job, re-delivered messages wait until this instant. */
  leaseUntil?: string;
  report: RestoreReport;
}

/** Share of an invocation's deadline during which new objects are started; the rest lets those in flight finish. */
const START_SHARE_OF_DEADLINE = 0.75;
/** How long a lease outlives its invocation's deadline. */
const LEASE_MARGIN_MS = 60_000;

/** The state-store key of a restore request. */
export function restoreStateKey(requestId: string): string {
  return `restore/${requestId}`;
}

/**
 * Stores a restore request for a queue job and enqueues the job; answers the queued report. When the message cannot
 * be sent, the stored report says so and the error is rethrown.
 * @param deps - state store and restore queue
 * @param queued - who asked, the request, and its report (status `queued`)
 */
export async function enqueueRestoreJob(
  deps: Pick<RestoreDependencies, 'state' | 'restoreQueue' | 'clock'>,
  queued: { principal: string; request: RestoreRequest; report: RestoreReport },
): Promise<RestoreReport> {
  const key = restoreStateKey(queued.report.requestId);
  const state: RestoreJobState = {
    principal: queued.principal,
    request: { ...queued.request, asOf: queued.request.asOf ?? queued.report.startedAt },
    attempts: 0,
    report: queued.report,
  };
  await deps.state.write(key, state, { etag: null });
  try {
    await deps.restoreQueue.send({ kind: 'restore', requestId: queued.report.requestId });
  } catch (error) {
    const report: RestoreReport = {
      ...queued.report,
      status: 'failed',
      error: describeError(error),
      finishedAt: deps.clock.now().toISOString(),
    };
    await deps.state.write(key, { ...state, report });
    throw error;
  }
  return queued.report;
}

/**
 * The report of a restore request kept for `GET /api/restore/{id}`; throws `NotFound` for an unknown id.
 * @param state - the state store
 * @param requestId - the id `POST /api/restore` answered
 */
export async function readRestoreReport(state: StateStore, requestId: string): Promise<RestoreReport> {
  const doc = await state.read<RestoreJobState>(restoreStateKey(requestId));
  if (!doc)
    throw new KvGuardError('NotFound', `no restore request with id ${JSON.stringify(requestId)}`, { field: 'id' });
  return doc.value.report;
}

/**
 * Runs (or continues) a queued restore. It claims a lease so a re-delivered message does not run the same request
 * twice, re-checks every target name that has no outcome yet (refusing everything under `onConflict: 'fail'` when
 * a conflict appeared before any change), restores with progress saved as it goes, and stops starting objects
 * near its deadline: the rest is handed to a follow-up message. The finished report is audited.
 * Answers the report, or undefined when the request is unknown or another invocation holds it.
 * @param deps - vaults, store, state, queue, telemetry, logger, clock
 * @param job - the queue message
 * @param settings - deadline, concurrency, purge settle time
 */
export async function runRestoreJob(
  deps: RestoreDependencies,
  job: RestoreJob,
  settings: RestoreSettings,
): Promise<RestoreReport | undefined> {
  const key = restoreStateKey(job.requestId);
  const doc = await deps.state.read<RestoreJobState>(key);
  if (!doc) {
    deps.logger.error('restore job names an unknown request; dropped', { requestId: job.requestId });
    return undefined;
  }
  const saved = doc.value;
  if (FINAL_STATUSES.includes(saved.report.status)) return saved.report;
  const now = deps.clock.now().getTime();
  if (saved.leaseUntil && Date.parse(saved.leaseUntil) > now) {
    const delaySeconds = Math.ceil((Date.parse(saved.leaseUntil) - now) / 1000) + 1;
    await deps.restoreQueue.send(job, { delaySeconds });
    deps.logger.info('restore job is held by another invocation; retrying later', {
      requestId: job.requestId,
      delaySeconds,
    });
    return saved.report;
  }
  const deadline = now + settings.deadlineSeconds * 1000;
  const claimed: RestoreJobState = {
    ...saved,
    attempts: saved.attempts + 1,
    leaseUntil: new Date(deadline + LEASE_MARGIN_MS).toISOString(),
    report: { ...saved.report, status: 'running' },
  };
  try {
    await deps.state.write(key, claimed, { etag: doc.etag });
  } catch (error) {
    if (!isKvGuardError(error, 'Conflict')) throw error;
    deps.logger.info('restore job claimed by another invocation', { requestId: job.requestId });
    return undefined;
  }
  const save = (state: RestoreJobState) => deps.state.write(key, state);
  let report: RestoreReport;
  try {
    const step = await restoreRemaining(deps, claimed, settings, { deadline, save });
    if (step.pending) {
      await save({ ...claimed, leaseUntil: undefined, report: step.report });
      await deps.restoreQueue.send(job);
      deps.logger.info('restore job continues in a follow-up message', {
        requestId: job.requestId,
        ...step.report.progress,
      });
      return step.report;
    }
    report = step.report;
  } catch (error) {
    report = { ...claimed.report, status: 'failed', error: describeError(error) };
  }
  const finished = await finishRestore(deps, claimed.principal, report);
  await save({ ...claimed, leaseUntil: undefined, report: finished });
  return finished;
}

/** One invocation's share of a job: plan the objects without an outcome, restore them until the start cut-off. */
async function restoreRemaining(
  deps: RestoreDependencies,
  state: RestoreJobState,
  settings: RestoreSettings,
  run: { deadline: number; save: (state: RestoreJobState) => Promise<void> },
): Promise<{ report: RestoreReport; pending: boolean }> {
  const { request } = state;
  const started = deps.clock.now().getTime();
  const target = deps.vaults.open(request.target.url, { deadline: new Date(run.deadline) });
  const selection = await selectBackups(deps.store, request);
  const done = new Set(state.report.objects.map(objectKey));
  const objects = await preflight(
    target,
    selection.records.filter((r) => !done.has(objectKey(r))),
    request.onConflict,
  );
  const total = done.size + objects.length;
  const base: RestoreReport = { ...state.report, absent: selection.absent };
  if (done.size === 0 && refusesWholePlan(request.onConflict, objects)) {
    return { report: { ...withResults(base, conflictsOf(objects), total), status: 'conflict' }, pending: false };
  }
  const changing = objects.filter((o) => o.action !== 'skip' && o.action !== 'conflict');
  if (changing.length > 0) await auditRestoreStarted(deps, state.principal, base, changing);
  const results: ObjectResult[] = [...state.report.objects];
  const progress = coalescingWriter(
    () => run.save({ ...state, report: withResults(base, results, total) }),
    deps.logger,
  );
  const outcome = await executePlan(deps, target, objects, {
    dryRun: false,
    ...executionSettings(request, settings),
    stopStartingAt: new Date(started + (run.deadline - started) * START_SHARE_OF_DEADLINE),
    onResult: (result) => {
      results.push(result);
      progress.touch();
    },
  });
  await progress.flush();
  const report = withResults(base, results, total);
  if (outcome.some((r) => r === undefined)) return { report, pending: true };
  return { report: { ...report, status: finalStatus(results, false) }, pending: false };
}

function objectKey(object: { type: string; name: string }): string {
  return `${object.type}/${object.name.toLowerCase()}`;
}

/**
 * Serialises progress writes: at most one in flight, and any number of touches while it runs collapse into one
 * more write. A failed progress write is logged, not fatal (the final write carries everything).
 */
function coalescingWriter(write: () => Promise<void>, logger: Logger): { touch(): void; flush(): Promise<void> } {
  let inFlight: Promise<void> | undefined;
  let dirty = false;
  const pump = async () => {
    while (dirty) {
      dirty = false;
      try {
        await write();
      } catch (error) {
        logger.warn('restore progress not saved', describeError(error));
      }
    }
    inFlight = undefined;
  };
  return {
    touch() {
      dirty = true;
      inFlight ??= pump();
    },
    async flush() {
      while (inFlight) await inFlight;
    },
  };
}
