import type { InvocationContext, Timer } from '@azure/functions';
import { services } from '../composition';
import { restoreSettingsFor } from '../core/restore/restore-settings';
import { runRestoreDrill } from '../core/verify';
import type { TimerFunctionDefinition } from './definition';
import { invocationLogger } from './invocation-logger';

/** Timer: restores a sample of the newest backups into the scratch vault and alerts when any does not come back. */
async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const deps = { ...(await services()), logger: invocationLogger(context) };
  const { config } = deps;
  if (!config.scratchVault) {
    deps.logger.info('restore drill skipped: KVGUARD_SCRATCH_VAULT is not set');
    return;
  }
  const settings = restoreSettingsFor('job', config.runDeadlineSeconds);
  const report = await runRestoreDrill(deps, {
    sources: config.vaults,
    scratchVaultUrl: config.scratchVault,
    sample: config.drillSample,
    principal: 'timer:restoreDrill',
    deadlineSeconds: settings.deadlineSeconds,
    purgeSettleSeconds: settings.purgeSettleSeconds,
  });
  deps.logger[report.status === 'failed' ? 'error' : 'info']('restore drill finished', {
    drillId: report.drillId,
    status: report.status,
    sampled: report.sampled,
    failed: report.failed,
  });
}

/** The weekly restore drill. */
export const restoreDrillFunction: TimerFunctionDefinition = {
  trigger: 'timer',
  name: 'restoreDrill',
  schedule: '%KVGUARD_DRILL_SCHEDULE%',
  handler,
};
