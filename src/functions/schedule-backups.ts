import type { InvocationContext, Timer } from '@azure/functions';
import { discoverySettings, services } from '../composition';
import { scheduledTargets } from '../core/discovery';
import { scheduleBackups } from '../core/backup/runs';
import { alertRpoBreaches, vaultStatuses } from '../core/backup/status';
import { noVaultTags } from '../core/policy/pause';
import { vaultsDueOnTick } from '../core/policy/schedule';
import type { TimerFunctionDefinition } from './definition';
import { invocationLogger } from './invocation-logger';

/**
 * Timer: enqueues one backup job per protected vault (configured or discovered) that is due on this tick and not
 * paused, then alerts on RPO breaches (saying so when a vault is paused).
 */
async function handler(timer: Timer, context: InvocationContext): Promise<void> {
  const deps = await services();
  const { config, backupQueue, store, alerts, clock, vaultTags = noVaultTags } = deps;
  const logger = invocationLogger(context);
  if (timer.isPastDue) logger.warn('backup schedule is running late');
  // Tagged vaults are re-discovered on each schedule, so a newly tagged vault is protected without a redeploy.
  const targets = await scheduledTargets(config.vaults, discoverySettings(config), { ...deps, logger });
  const { due, skipped } = await vaultsDueOnTick(targets, {
    timerSchedule: config.backupSchedule,
    now: clock.now(),
    tags: vaultTags,
    logger,
  });
  if (skipped.length > 0) logger.info('vaults skipped on this tick', { skipped });
  const jobs = await scheduleBackups(due, backupQueue, clock);
  logger.info('backup jobs enqueued', { runs: jobs.map((j) => ({ vault: j.vaultUrl, runId: j.runId })) });
  const { vaults } = await vaultStatuses(targets, store, clock, config.rpoHours, vaultTags);
  await alertRpoBreaches(vaults, alerts, clock);
}

/** The scheduled fan-out of backups. */
export const scheduleBackupsFunction: TimerFunctionDefinition = {
  trigger: 'timer',
  name: 'scheduleBackups',
  schedule: '%KVGUARD_BACKUP_SCHEDULE%',
  handler,
};
