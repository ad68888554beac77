import type { VaultPort } from '../ports';
import { refusesWholePlan, type PlannedObject } from './plan-restore';
import { auditRestoreStarted, finishRestore } from './restore-audit';
import { executePlan, type ExecuteOptions, type ObjectResult } from './restore-objects';
import { conflictsOf, finalStatus, withResults, type RestoreReport } from './restore-report';
import type { RestoreRequest } from './restore-request';
import {
  executionSettings,
  type RestoreCall,
  type RestoreDependencies,
  type RestoreSettings,
} from './restore-settings';

/**
 * The refusal of a whole plan under `onConflict: fail` when any name it needs is taken (audited), or undefined when
 * the plan may go ahead. Shared by opaque and portable restores.
 */
export async function refuseConflictingPlan(
  deps: RestoreDependencies,
  call: RestoreCall,
  request: RestoreRequest,
  planned: RestoreReport,
  objects: readonly PlannedObject[],
): Promise<RestoreReport | undefined> {
  if (request.dryRun || !refusesWholePlan(request.onConflict, objects)) return undefined;
  return finishRestore(deps, call.principal, {
    ...withResults(planned, conflictsOf(objects), objects.length),
    status: 'conflict',
  });
}

/**
 * Restores a checked plan within the request: a create-only "started" audit before the first change, every object
 * with progress, then the outcome audited. Shared by opaque and portable restores; `carry` says how backups travel.
 */
export async function restorePlanNow(
  deps: RestoreDependencies,
  call: RestoreCall,
  run: { request: RestoreRequest; settings: RestoreSettings; target: VaultPort; planned: RestoreReport },
  objects: readonly PlannedObject[],
  carry: Pick<ExecuteOptions, 'crossVault' | 'carrier'> = {},
): Promise<RestoreReport> {
  const { request, settings, target, planned } = run;
  const changing = objects.filter((o) => o.action !== 'skip' && o.action !== 'conflict');
  if (!request.dryRun && changing.length > 0) await auditRestoreStarted(deps, call.principal, planned, changing);
  const results: ObjectResult[] = [];
  const done = await executePlan(deps, target, objects, {
    dryRun: request.dryRun,
    ...executionSettings(request, settings),
    ...carry,
    onResult: (result) => {
      results.push(result);
      call.onProgress?.(results.length, objects.length);
    },
  });
  const ordered = done.filter((r): r is ObjectResult => r !== undefined);
  return finishRestore(deps, call.principal, {
    ...withResults(planned, ordered, objects.length),
    status: finalStatus(ordered, request.dryRun),
  });
}
