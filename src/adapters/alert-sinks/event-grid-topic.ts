import { createHash } from 'node:crypto';
import { AzureKeyCredential, type TokenCredential } from '@azure/core-auth';
import {
  EventGridPublisherClient,
  type EventGridPublisherClientOptions,
  type SendEventGridEventInput,
} from '@azure/eventgrid';
import type { Alert, AlertSink } from '../../core/ports';
import { sinkError } from './errors';

/** Options of {@link eventGridTopicSink}. */
export interface EventGridTopicSinkOptions {
  /** Topic endpoint, e.g. `https://<topic>.<region>-1.eventgrid.azure.net/api/events` (the SDK refuses plain http). */
  endpoint: string;
  /** Topic access key; without it, `credential` (managed identity: "EventGrid Data Sender" role) is used. */
  key?: string;
  credential: TokenCredential;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Extra client options (e.g. `tlsOptions` to trust a local CA). */
  clientOptions?: EventGridPublisherClientOptions;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Publishes alerts to an Event Grid custom topic (Event Grid schema) with the alert type as `eventType`
 * (`kvguard.ObjectDeleted` …), so subscribers can filter on it. The event id derives from the dedupe key, so a
 * retried send carries the same id and subscribers can de-duplicate.
 */
export function eventGridTopicSink(options: EventGridTopicSinkOptions): AlertSink {
  const credential = options.key ? new AzureKeyCredential(options.key) : options.credential;
  // kvguard's alert port retries each sink itself; a second retry layer here would multiply the attempts.
  const client = new EventGridPublisherClient(options.endpoint, 'EventGrid', credential, {
    ...options.clientOptions,
    retryOptions: { maxRetries: 0 },
  });
  const name = 'eventGridTopic';
  return {
    name,
    async send(alert) {
      try {
        await client.send([toEvent(alert)], {
          abortSignal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        });
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        // The endpoint is not secret (the key travels in a header), so the SDK's own message may be quoted.
        const detail =
          status === undefined
            ? `the topic could not be reached: ${(error as Error).message}`
            : `the topic answered HTTP ${status}`;
        throw sinkError(name, status, detail, error);
      }
    },
  };
}

/** The Event Grid event an alert becomes. */
export function toEvent(alert: Alert): SendEventGridEventInput<Record<string, unknown>> {
  return {
    id: createHash('sha256').update(alert.dedupeKey).digest('hex').slice(0, 32),
    eventType: alert.type,
    subject: alert.subject,
    eventTime: new Date(alert.occurredAt),
    dataVersion: '1.0',
    data: { severity: alert.severity, summary: alert.summary, dedupeKey: alert.dedupeKey, ...alert.data },
  };
}
