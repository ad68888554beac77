import type { InvocationContext, Timer } from '@azure/functions';
import { services } from '../composition';
import type { TimerFunctionDefinition } from './definition';
import { invocationLogger } from './invocation-logger';

/** Timer: delivers the alerts still pending in the outbox (a sink was down, or the CLI recorded them). */
async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const { alerts } = await services();
  const logger = invocationLogger(context);
  const entries = await alerts.deliverPending();
  if (entries.length === 0) return;
  const count = (status: string) => entries.filter((e) => e.status === status).length;
  logger.info('alert outbox pass', {
    delivered: count('delivered'),
    pending: count('pending'),
    parked: count('parked'),
  });
}

/** The outbox's delivery timer: every alert reaches every sink, or is parked with the reason. */
export const deliverAlertsFunction: TimerFunctionDefinition = {
  trigger: 'timer',
  name: 'deliverAlerts',
  schedule: '%KVGUARD_ALERT_RETRY_SCHEDULE%',
  handler,
};
