import { describeError, isKvGuardError } from '../errors';
import type { AuditEntry, BackupStore, Clock, Logger, Telemetry } from '../ports';
import type { RestoreReport } from './restore-report';

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
 * write is logged as an error and counted, but never turns a restore that happened into a reported failure.
 * @param deps - store, telemetry, logger, clock
 * @param entry - the entry; `at` defaults to now
 */
export async function appendAuditEntry(
  deps: AuditDependencies,
  entry: Omit<AuditEntry, 'at'> & { at?: string },
): Promise<string | undefined> {
  const at = entry.at ? new Date(entry.at) : deps.clock.now();
  for (let attempt = 0; attempt < AUDIT_NAME_ATTEMPTS; attempt++) {
    try {
      return await deps.store.appendAudit({ ...entry, at: new Date(at.getTime() + attempt).toISOString() });
    } catch (error) {
      if (isKvGuardError(error, 'AlreadyExists') && attempt + 1 < AUDIT_NAME_ATTEMPTS) continue;
      deps.logger.error('audit entry could not be written', {
        action: entry.action,
        requestId: entry.requestId,
        ...describeError(error),
      });
      deps.telemetry.metric('kvguard.audit.failed', 1, { action: entry.action });
      return undefined;
    }
  }
  return undefined;
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
