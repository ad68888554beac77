import { randomUUID } from 'node:crypto';
import { planRestore } from './plan-restore';
import { auditRestore, planOrAuditRefusal } from './restore-audit';
import { newReport, type RestoreReport } from './restore-report';
import { isWholeVaultRequest, type RestoreRequest } from './restore-request';
import { type RestoreCall, type RestoreDependencies, type RestoreSettings } from './restore-settings';
import { requestPortableRestore } from '../portable/restore-portable';
import { enqueueRestoreJob } from './restore-job';
import { refuseConflictingPlan, restorePlanNow } from './run-plan';

export type { RestoreCall } from './restore-settings';

/**
 * Handles one restore request end to end: chooses the backups, checks every target name before changing anything,
 * refuses the whole request when `onConflict` is `fail` and any name is taken, then restores (or, for a dry run,
 * only plans) and audits: a create-only "started" record before the first change (nothing changes without it), the
 * outcome after. A large whole-vault restore becomes a queue job instead (status `queued`).
 * Throws `NotFound` when no backup matches (audited too).
 * @param deps - vaults, store, state, queue, telemetry, logger, clock
 * @param request - the validated request
 * @param call - principal, request id, whether a job is allowed, progress callback
 * @param settings - deadline, concurrency, purge settle time, job threshold
 */
export async function requestRestore(
  deps: RestoreDependencies,
  request: RestoreRequest,
  call: RestoreCall,
  settings: RestoreSettings,
): Promise<RestoreReport> {
  if (request.format === 'portable') return requestPortableRestore(deps, request, call, settings);
  const requestId = call.requestId ?? randomUUID();
  const started = deps.clock.now();
  const deadline = new Date(started.getTime() + settings.deadlineSeconds * 1000);
  const target = deps.vaults.open(request.target.url, { deadline });
  const report = newReport(requestId, request, started);
  const plan = await planOrAuditRefusal(deps, { principal: call.principal, requestId, request }, () =>
    planRestore({ store: deps.store, target }, request),
  );
  const planned: RestoreReport = { ...report, absent: plan.absent, progress: { total: plan.objects.length, done: 0 } };
  const refused = await refuseConflictingPlan(deps, call, request, planned, plan.objects);
  if (refused) return refused;
  if (
    !request.dryRun &&
    call.allowJob &&
    isWholeVaultRequest(request) &&
    plan.objects.length > settings.asyncThreshold
  ) {
    const queued = await enqueueRestoreJob(deps, {
      principal: call.principal,
      request,
      report: { ...planned, status: 'queued' },
    });
    return { ...queued, audit: await auditRestore(deps, call.principal, queued) };
  }
  return restorePlanNow(deps, call, { request, settings, target, planned }, plan.objects);
}
