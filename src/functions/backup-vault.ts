import type { InvocationContext } from '@azure/functions';
import { backupSettings, services } from '../composition';
import { runQueuedBackupJob } from '../core/backup/runs';
import { findVault } from '../config';
import { protectedVaults } from '../core/discovery';
import { backupJobSchema } from '../core/jobs';
import type { QueueFunctionDefinition } from './definition';
import { validationError } from './http';
import { invocationLogger } from './invocation-logger';

/** Queue: backs up one chunk of a vault (or the objects an event named), enqueuing the next chunk first. */
async function handler(message: unknown, context: InvocationContext): Promise<void> {
  const parsed = backupJobSchema.safeParse(message);
  // Thrown, so the host retries and finally parks the message in the poison queue for inspection; never dropped.
  if (!parsed.success) throw validationError(parsed.error, 'body');
  const job = parsed.data;
  const deps = { ...(await services()), logger: invocationLogger(context) };
  // A vault found by tag is not in the configuration; the latest discovery (state store) vouches for it.
  const target =
    findVault(deps.config, job.vaultUrl) ??
    findVault({ vaults: await protectedVaults(deps.config.vaults, deps.state) }, job.vaultUrl);
  if (!target) {
    deps.logger.warn('backup job for a vault that is no longer configured; dropped', {
      vaultUrl: job.vaultUrl,
      runId: job.runId,
    });
    return;
  }
  await runQueuedBackupJob(job, target, deps, backupSettings(deps.config), (next, options) =>
    deps.backupQueue.send(next, options),
  );
}

/** The queue-triggered backup worker. */
export const backupVaultFunction: QueueFunctionDefinition = {
  trigger: 'queue',
  name: 'backupVault',
  queueName: '%KVGUARD_BACKUP_QUEUE%',
  connection: 'KVGUARD_STORAGE',
  handler,
};
