import type { InvocationContext } from '@azure/functions';
import { services } from '../composition';
import { restoreJobSchema } from '../core/jobs';
import { runRestoreJob } from '../core/restore/restore-job';
import { restoreSettingsFor } from '../core/restore/restore-settings';
import type { QueueFunctionDefinition } from './definition';
import { validationError } from './http';
import { invocationLogger } from './invocation-logger';

/** Queue: runs (or continues) a whole-vault restore that POST /api/restore queued. */
async function handler(message: unknown, context: InvocationContext): Promise<void> {
  const parsed = restoreJobSchema.safeParse(message);
  // Thrown, so the host retries and finally parks the message in the poison queue for inspection; never dropped.
  if (!parsed.success) throw validationError(parsed.error, 'body');
  const deps = { ...(await services()), logger: invocationLogger(context) };
  await runRestoreJob(deps, parsed.data, restoreSettingsFor('job', deps.config.runDeadlineSeconds));
}

/** The queue-triggered restore worker. */
export const restoreJobFunction: QueueFunctionDefinition = {
  trigger: 'queue',
  name: 'restoreJob',
  queueName: '%KVGUARD_RESTORE_QUEUE%',
  connection: 'KVGUARD_STORAGE',
  handler,
};
