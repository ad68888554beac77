import type { TokenCredential } from '@azure/core-auth';
import type { KvGuardConfig } from '../../config';
import type { AlertSink, Logger, Telemetry } from '../../core/ports';
import { appInsightsSink } from './app-insights';
import { eventGridTopicSink } from './event-grid-topic';
import { webhookSink } from './webhook';

export { ALERT_EVENT_NAME, appInsightsSink } from './app-insights';
export { eventGridTopicSink, toEvent, type EventGridTopicSinkOptions } from './event-grid-topic';
export { webhookBody, webhookSink, type WebhookFormat, type WebhookSinkOptions } from './webhook';

/** The alert settings {@link createAlertSinks} reads. */
export type AlertSinkSettings = Pick<
  KvGuardConfig,
  'appInsights' | 'alertWebhookUrl' | 'alertWebhookFormat' | 'alertTopicEndpoint' | 'alertTopicKey'
>;

/**
 * The alert sinks the configuration asks for: Application Insights when its connection string is set, the webhook
 * when `KVGUARD_ALERT_WEBHOOK_URL` is set, the Event Grid topic when `KVGUARD_ALERT_EVENTGRID_ENDPOINT` is set.
 * With none, alerts still reach the logs (the alert port logs every alert).
 * @param deps - the identity for the Event Grid topic (without a key), the telemetry port, and a logger for warnings
 */
export function createAlertSinks(
  config: AlertSinkSettings,
  deps: { credential: TokenCredential; telemetry: Telemetry; logger?: Logger },
): AlertSink[] {
  const sinks: AlertSink[] = [];
  if (config.appInsights) sinks.push(appInsightsSink(deps.telemetry));
  if (config.alertWebhookUrl) {
    if (new URL(config.alertWebhookUrl).protocol === 'http:')
      deps.logger?.warn('KVGUARD_ALERT_WEBHOOK_URL uses plain http: alerts travel unencrypted');
    sinks.push(webhookSink({ url: config.alertWebhookUrl, format: config.alertWebhookFormat }));
  }
  if (config.alertTopicEndpoint) {
    sinks.push(
      eventGridTopicSink({
        endpoint: config.alertTopicEndpoint,
        key: config.alertTopicKey,
        credential: deps.credential,
      }),
    );
  }
  return sinks;
}
