import type { InvocationContext, Timer } from '@azure/functions';
import { services } from '../composition';
import { scheduleBackups } from '../core/backup/runs';
import { alertRpoBreaches, vaultStatuses } from '../core/backup/status';
import type { TimerFunctionDefinition } from './definition';
import { invocationLogger } from './invocation-logger';

/** Timer: enqueues one backup job per configured vault, then alerts on vaults past their RPO. */
async function handler(timer: Timer, context: InvocationContext): Promise<void> {
  const { config, backupQueue, store, alerts, clock } = services();
  const logger = invocationLogger(context);
  if (timer.isPastDue) logger.warn('backup schedule is running late');
  const jobs = await scheduleBackups(config.vaults, backupQueue, clock);
  logger.info('backup jobs enqueued', { runs: jobs.map((j) => ({ vault: j.vaultUrl, runId: j.runId })) });
  const { vaults } = await vaultStatuses(config.vaults, store, clock, config.rpoHours);
  await alertRpoBreaches(vaults, alerts, clock);
}

/** The scheduled fan-out of backups. */
export const scheduleBackupsFunction: TimerFunctionDefinition = {
  trigger: 'timer',
  name: 'scheduleBackups',
  schedule: '%KVGUARD_BACKUP_SCHEDULE%',
  handler,
};
