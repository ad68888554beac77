import type { AbsentObject, PlannedObject } from './plan-restore';
import type { ObjectResult, RestoreOutcome } from './restore-objects';
import type { ConflictPolicy, RestoreRequest, VaultRef } from './restore-request';

/**
 * Where a restore request stands. `queued`/`running` belong to a job; `conflict` means nothing was changed because
 * of conflicts under `onConflict: 'fail'`; `partial` means some objects came back and some did not.
 */
export type RestoreStatus = 'queued' | 'running' | 'planned' | 'succeeded' | 'partial' | 'failed' | 'conflict';

/** What a restore request did (or will do): the response body of `POST /api/restore` and `GET /api/restore/{id}`. */
export interface RestoreReport {
  requestId: string;
  status: RestoreStatus;
  dryRun: boolean;
  onConflict: ConflictPolicy;
  source: VaultRef;
  target: VaultRef;
  objectType?: RestoreRequest['objectType'];
  name?: string;
  asOf?: string;
  backup?: string;
  progress: { total: number; done: number };
  counts: Record<RestoreOutcome, number>;
  /** Per object: plan and outcome (objects a queued job has not reached yet are absent). */
  objects: ObjectResult[];
  /** Objects left alone because they had no backup at `asOf`. */
  absent: AbsentObject[];
  /** A failure of the whole request (a job that could not finish). */
  error?: { code: string; reason: string };
  startedAt: string;
  finishedAt?: string;
  /** The audit blob recording this request. */
  audit?: string;
  /** `portable` for a restore from portable exports (absent: the opaque Key Vault backups). */
  format?: 'portable';
  /** Portable restores: what could not be carried, and what to do instead. */
  notCarried?: NotCarried[];
}

/** An object a portable restore cannot carry, and what to do instead. */
export interface NotCarried {
  type: RestoreRequest['objectType'] & string;
  name: string;
  reason: string;
}

/** Statuses after which nothing more happens. */
export const FINAL_STATUSES: readonly RestoreStatus[] = ['planned', 'succeeded', 'partial', 'failed', 'conflict'];

/** Outcomes that count as success: the object is back, recovered, or left alone as asked. */
const SUCCESS_OUTCOMES: readonly RestoreOutcome[] = ['restored', 'recovered', 'skipped', 'planned'];

/** Counts results by outcome (every outcome present, zero when none). */
export function countOutcomes(results: readonly ObjectResult[]): Record<RestoreOutcome, number> {
  const counts: Record<RestoreOutcome, number> = {
    restored: 0,
    recovered: 0,
    skipped: 0,
    conflict: 0,
    failed: 0,
    planned: 0,
  };
  for (const result of results) counts[result.outcome] += 1;
  return counts;
}

/**
 * The final status of a finished request: `planned` for a dry run; `succeeded` when every object succeeded;
 * `failed` when none did; otherwise `partial`.
 */
export function finalStatus(results: readonly ObjectResult[], dryRun: boolean): RestoreStatus {
  if (dryRun) return 'planned';
  const succeeded = results.filter((r) => SUCCESS_OUTCOMES.includes(r.outcome)).length;
  if (succeeded === results.length) return 'succeeded';
  return succeeded === 0 ? 'failed' : 'partial';
}

/** The objects of a plan that `onConflict: 'fail'` refuses, as results (nothing is changed). */
export function conflictsOf(objects: readonly PlannedObject[]): ObjectResult[] {
  return objects.map((o) =>
    o.action === 'conflict'
      ? { ...o, outcome: 'conflict' }
      : { ...o, outcome: 'skipped', reason: 'not attempted: other names are taken and onConflict is fail' },
  );
}

/** A report for a request, before any object has an outcome. */
export function newReport(requestId: string, request: RestoreRequest, startedAt: Date): RestoreReport {
  return {
    requestId,
    status: 'running',
    dryRun: request.dryRun,
    onConflict: request.onConflict,
    source: request.source,
    target: request.target,
    ...(request.objectType === undefined ? {} : { objectType: request.objectType }),
    ...(request.name === undefined ? {} : { name: request.name }),
    ...(request.asOf === undefined ? {} : { asOf: request.asOf }),
    ...(request.backup === undefined ? {} : { backup: request.backup }),
    ...(request.format === 'portable' ? { format: 'portable' as const } : {}),
    progress: { total: 0, done: 0 },
    counts: countOutcomes([]),
    objects: [],
    absent: [],
    startedAt: startedAt.toISOString(),
  };
}

/** The report with these results, counts and progress. */
export function withResults(report: RestoreReport, results: readonly ObjectResult[], total: number): RestoreReport {
  return {
    ...report,
    objects: [...results],
    counts: countOutcomes(results),
    progress: { total, done: results.length },
  };
}
