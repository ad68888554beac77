import type { InvocationContext, Timer } from '@azure/functions';
import { services } from '../composition';
import { applyRetention } from '../core/retention/apply';
import type { TimerFunctionDefinition } from './definition';
import { invocationLogger } from './invocation-logger';

/**
 * Timer: computes each vault's retention plan and, with pruning on, tags what may go `kvguard-prunable=true` for
 * the storage account's lifecycle rule to delete. With pruning off it plans and reports only: no tag is written, so
 * no refusal can fail the pass or raise an alert. kvguard itself never deletes.
 */
async function handler(timer: Timer, context: InvocationContext): Promise<void> {
  const { config, store, pruneMarks, clock } = await services();
  const logger = invocationLogger(context);
  if (timer.isPastDue) logger.warn('retention pass is running late');
  // Only the prune identity may tag: without it (KVGUARD_PRUNING=false) the pass is a report.
  const pruning = pruneMarks ? 'on' : 'off (KVGUARD_PRUNING=false): planned only';
  const passes = await applyRetention(config.vaults, { store, marks: pruneMarks, clock });
  for (const pass of passes) {
    const failed = pass.marks?.failed ?? [];
    logger[failed.length > 0 ? 'warn' : 'info']('retention pass done', {
      vault: pass.vault,
      pruning,
      ...pass.totals,
      marked: pass.marks?.marked ?? 0,
      failed: failed.slice(0, 10),
    });
  }
}

/** The scheduled retention pass. */
export const applyRetentionFunction: TimerFunctionDefinition = {
  trigger: 'timer',
  name: 'applyRetention',
  schedule: '%KVGUARD_RETENTION_SCHEDULE%',
  handler,
};
