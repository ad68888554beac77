import type { ObjectType } from '../domain';
import { describeError, isKvGuardError, KvGuardError } from '../errors';
import { boundedPrincipalName, MAX_AUDITED_PRINCIPAL } from '../principal-name';
import type { AuditEntry, BackupStore, Clock, Logger, Telemetry } from '../ports';
import type { RestoreReport } from './restore-report';
import type { RestoreRequest } from './restore-request';

/** What auditing needs. */
export interface AuditDependencies {
  store: BackupStore;
  telemetry: Telemetry;
  logger: Logger;
  clock: Clock;
}

/** Audit blob names carry the time to the millisecond; two entries of one request in the same millisecond move on. */
const AUDIT_NAME_ATTEMPTS = 3;

/**
 * Appends an audit entry (create-only) and answers its blob name; undefined when storage refused it. A failed audit
 * write is logged as an error and counted, but never turns a restore that happened into a reported failure. The
 * principal is stored bounded and escaped, whoever supplied it.
 * @param deps - store, telemetry, logger, clock
 * @param entry - the entry; `at` defaults to now
 */
export async function appendAuditEntry(
  deps: AuditDependencies,
  entry: Omit<AuditEntry, 'at'> & { at?: string },
): Promise<string | undefined> {
  try {
    return await writeAuditEntry(deps, entry);
  } catch (error) {
    deps.logger.error('audit entry could not be written', {
      action: entry.action,
      requestId: entry.requestId,
      ...describeError(error),
    });
    deps.telemetry.metric('kvguard.audit.failed', 1, { action: entry.action });
    return undefined;
  }
}

/** Writes one audit entry create-only, moving on a millisecond when the name is taken; throws what storage threw. */
async function writeAuditEntry(
  deps: AuditDependencies,
  entry: Omit<AuditEntry, 'at'> & { at?: string },
): Promise<string> {
  const at = entry.at ? new Date(entry.at) : deps.clock.now();
  const principal = boundedPrincipalName(entry.principal, MAX_AUDITED_PRINCIPAL);
  for (let attempt = 0; ; attempt++) {
    try {
      return await deps.store.appendAudit({ ...entry, principal, at: new Date(at.getTime() + attempt).toISOString() });
    } catch (error) {
      if (!isKvGuardError(error, 'AlreadyExists') || attempt + 1 >= AUDIT_NAME_ATTEMPTS) throw error;
    }
  }
}

/**
 * Records, create-only, that a restore is about to change a vault: who, which request, from where, into which
 * vault, and the objects it will restore. It is written before the first change and nothing changes without it: when
 * it cannot be written this throws `Transient` (the request may be sent again), so no restore goes unaudited even if
 * the process dies half-way. Answers the audit blob name.
 * @param deps - store, telemetry, logger, clock
 * @param principal - who asked
 * @param report - the request's report as planned
 * @param objects - what is about to be restored
 */
export async function auditRestoreStarted(
  deps: AuditDependencies,
  principal: string,
  report: RestoreReport,
  objects: readonly { type: ObjectType; name: string }[],
): Promise<string> {
  try {
    return await writeAuditEntry(deps, {
      action: 'restore',
      principal,
      requestId: report.requestId,
      dryRun: false,
      source: {
        vault: report.source.name,
        ...(report.asOf ? { asOf: report.asOf } : {}),
        ...(report.backup ? { backup: report.backup } : {}),
        ...(report.format ? { format: report.format } : {}),
      },
      target: { vault: report.target.name },
      objects: objects.map((o) => ({ type: o.type, name: o.name, outcome: 'planned' })),
      outcome: 'started',
    });
  } catch (error) {
    deps.logger.error('restore refused: its start could not be audited', {
      requestId: report.requestId,
      ...describeError(error),
    });
    deps.telemetry.metric('kvguard.audit.failed', 1, { action: 'restore' });
    throw new KvGuardError(
      'Transient',
      `The audit log is unavailable (${describeError(error).reason}); nothing was changed, send the request again`,
      { cause: error },
    );
  }
}

/**
 * Audits a restore request (principal, source, target, objects, dry run, outcome) and sends the same as a
 * telemetry event; answers the audit blob name.
 * @param deps - store, telemetry, logger, clock
 * @param principal - who asked
 * @param report - what the request did, or will do when it is queued
 */
export async function auditRestore(
  deps: AuditDependencies,
  principal: string,
  report: RestoreReport,
): Promise<string | undefined> {
  const objects = report.objects.map((o) => ({
    type: o.type,
    name: o.name,
    outcome: o.outcome,
    ...(o.reason ? { reason: o.reason } : {}),
  }));
  const blob = await appendAuditEntry(deps, {
    action: 'restore',
    principal,
    requestId: report.requestId,
    dryRun: report.dryRun,
    source: {
      vault: report.source.name,
      ...(report.asOf ? { asOf: report.asOf } : {}),
      ...(report.backup ? { backup: report.backup } : {}),
      ...(report.format ? { format: report.format } : {}),
    },
    target: { vault: report.target.name },
    objects,
    outcome: report.error ? `${report.status}: ${report.error.code}` : report.status,
  });
  deps.telemetry.event(
    'kvguard.restore',
    {
      requestId: report.requestId,
      principal,
      sourceVault: report.source.name,
      targetVault: report.target.name,
      status: report.status,
      dryRun: String(report.dryRun),
      onConflict: report.onConflict,
      ...(report.asOf ? { asOf: report.asOf } : {}),
      ...(report.error ? { errorCode: report.error.code } : {}),
    },
    { objects: report.progress.total, ...report.counts, absent: report.absent.length },
  );
  return blob;
}

/**
 * Plans a restore, and when planning refuses the request, puts the refusal on record before passing it on: a
 * restore that never started is audited like one that did.
 * @param deps - store, telemetry, logger, clock
 * @param asked - who asked, the request id and what was asked
 * @param plan - the planning step
 */
export async function planOrAuditRefusal<P>(
  deps: AuditDependencies,
  asked: { principal: string; requestId: string; request: Pick<RestoreRequest, 'source' | 'target' | 'dryRun'> },
  plan: () => Promise<P>,
): Promise<P> {
  try {
    return await plan();
  } catch (error) {
    await auditRefusedRestore(deps, {
      principal: asked.principal,
      requestId: asked.requestId,
      sourceVault: asked.request.source.name,
      targetVault: asked.request.target.name,
      dryRun: asked.request.dryRun,
      error,
    });
    throw error;
  }
}

/**
 * Audits a restore request that was refused before it reached the catalog (bad body, missing principal or role,
 * no backup): the attempt is on record too.
 * @param deps - store, telemetry, logger, clock
 * @param attempt - who asked (when known), the request id, what was asked (when known), and why it was refused
 */
export async function auditRefusedRestore(
  deps: AuditDependencies,
  attempt: {
    principal?: string;
    requestId: string;
    sourceVault?: string;
    targetVault?: string;
    dryRun?: boolean;
    error: unknown;
  },
): Promise<string | undefined> {
  const { code, reason } = describeError(attempt.error);
  const blob = await appendAuditEntry(deps, {
    action: 'restore',
    principal: attempt.principal ?? 'unauthenticated',
    requestId: attempt.requestId,
    dryRun: attempt.dryRun ?? false,
    source: { vault: attempt.sourceVault ?? '(not given)' },
    target: { vault: attempt.targetVault ?? attempt.sourceVault ?? '(not given)' },
    objects: [],
    outcome: `refused: ${code}: ${reason}`,
  });
  deps.telemetry.event('kvguard.restore', {
    requestId: attempt.requestId,
    principal: attempt.principal ?? 'unauthenticated',
    status: 'refused',
    errorCode: code,
  });
  return blob;
}

/**
 * Stamps a finished request's report with its end time and audits it; answers the report with its audit blob.
 * @param deps - store, telemetry, logger, clock
 * @param principal - who asked
 * @param report - the report with its final status
 */
export async function finishRestore(
  deps: AuditDependencies,
  principal: string,
  report: RestoreReport,
): Promise<RestoreReport> {
  const finished = { ...report, finishedAt: deps.clock.now().toISOString() };
  return { ...finished, audit: await auditRestore(deps, principal, finished) };
}
