import type { InvocationContext } from '@azure/functions';
import { services } from '../composition';
import { findVault } from '../config';
import { handleVaultEvent } from '../core/events';
import type { EventGridFunctionDefinition } from './definition';
import { invocationLogger } from './invocation-logger';

/**
 * Event Grid: Key Vault events (new versions, near expiry, expiry, access policy changes) and ARM vault deletions.
 * Only parses, de-duplicates, enqueues and alerts, so it answers well within Event Grid's 30 s. Malformed and
 * unknown events are logged and acknowledged, never thrown: a throw would make Event Grid redeliver them.
 */
async function handler(event: unknown, context: InvocationContext): Promise<void> {
  const logger = invocationLogger(context);
  const { config, state, backupQueue, alerts, store, clock } = await services();
  const result = await handleVaultEvent(event, {
    findVault: (urlOrName) => findVault(config, urlOrName),
    snapshotOnPolicyChange: config.snapshotOnPolicyChange,
    coalesceSeconds: config.eventCoalesceSeconds,
    state,
    backupQueue,
    alerts,
    store,
    logger,
    clock,
  });
  const line = `vault event ${result.outcome}`;
  if (result.outcome === 'rejected') logger.warn(line, { ...result });
  else logger.info(line, { ...result });
}

/** The Event Grid-triggered handler of Key Vault and vault-deletion events. */
export const vaultEventsFunction: EventGridFunctionDefinition = {
  trigger: 'eventGrid',
  name: 'vaultEvents',
  handler,
};
