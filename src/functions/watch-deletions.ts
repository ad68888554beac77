import type { InvocationContext, Timer } from '@azure/functions';
import { services } from '../composition';
import { watchDeletions } from '../core/watch-deletions';
import type { TimerFunctionDefinition } from './definition';
import { invocationLogger } from './invocation-logger';

/** Timer: compares each vault's deleted objects with the last run and alerts on deletions, purges, vanishings. */
async function handler(timer: Timer, context: InvocationContext): Promise<void> {
  const { config, vaults, store, state, alerts, clock } = await services();
  const logger = invocationLogger(context);
  if (timer.isPastDue) logger.warn('deletion watcher is running late');
  const summary = await watchDeletions({ vaults: config.vaults, open: vaults, store, state, alerts, logger, clock });
  for (const vault of summary.vaults) {
    const counts = {
      deleted: vault.deleted.length,
      purged: vault.purged.length,
      vanished: vault.vanished.length,
      recovered: vault.recovered.length,
    };
    if (vault.status === 'failed') logger.error('deletion watch failed', { vault: vault.vault, error: vault.error });
    else
      logger.info('deletion watch done', {
        vault: vault.vault,
        baseline: vault.baseline,
        live: vault.live,
        softDeleted: vault.softDeleted,
        ...counts,
      });
  }
}

/** The scheduled deletion watcher (Key Vault sends no event for deleting or purging an object). */
export const watchDeletionsFunction: TimerFunctionDefinition = {
  trigger: 'timer',
  name: 'watchDeletions',
  schedule: '%KVGUARD_WATCH_SCHEDULE%',
  handler,
};
