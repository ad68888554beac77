import type { Alert, AlertSink } from '../../core/ports';
import { sinkError } from './errors';

/** Body shapes the webhook sink can post. */
export type WebhookFormat = 'json' | 'teams' | 'slack';

/** Options of {@link webhookSink}. */
export interface WebhookSinkOptions {
  url: string;
  format: WebhookFormat;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Injected for tests; default the global `fetch`. */
  fetch?: typeof fetch;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Posts alerts to a webhook as generic JSON, a Teams Adaptive Card message, or a Slack message. */
export function webhookSink(options: WebhookSinkOptions): AlertSink {
  const send = options.fetch ?? fetch;
  const name = `webhook:${options.format}`;
  return {
    name,
    async send(alert) {
      let response: Response;
      try {
        response = await send(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify(webhookBody(alert, options.format)),
          signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        });
      } catch (error) {
        const reason = error instanceof Error && error.name === 'TimeoutError' ? 'timed out' : 'could not be reached';
        throw sinkError(name, undefined, `the webhook ${reason}`, error);
      }
      // Drain the body so the connection can be reused; its content is not needed.
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw sinkError(name, response.status, `the webhook answered HTTP ${response.status}`);
    },
  };
}

/** The request body for an alert in the given format. */
export function webhookBody(alert: Alert, format: WebhookFormat): unknown {
  switch (format) {
    case 'json':
      return { source: 'kvguard', ...alert };
    case 'teams':
      return teamsMessage(alert);
    case 'slack':
      return slackMessage(alert);
  }
}

const SEVERITY_LABEL: Record<Alert['severity'], string> = { info: 'Info', warning: 'Warning', critical: 'CRITICAL' };

/** Facts worth a line of their own: scalar data fields. */
function facts(alert: Alert): { title: string; value: string }[] {
  return Object.entries(alert.data)
    .filter(([, v]) => v !== undefined && v !== null && typeof v !== 'object')
    .map(([title, v]) => ({ title, value: String(v) }));
}

/** A message with one Adaptive Card, the shape Teams workflow webhooks accept. */
function teamsMessage(alert: Alert): unknown {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'TextBlock',
              size: 'Medium',
              weight: 'Bolder',
              color: alert.severity === 'critical' ? 'Attention' : alert.severity === 'warning' ? 'Warning' : 'Default',
              text: `${SEVERITY_LABEL[alert.severity]}: ${alert.type}`,
            },
            { type: 'TextBlock', wrap: true, text: alert.summary },
            {
              type: 'FactSet',
              facts: [
                { title: 'subject', value: alert.subject },
                { title: 'at', value: alert.occurredAt },
                ...facts(alert),
              ],
            },
          ],
        },
      },
    ],
  };
}

/** A Slack incoming-webhook message: `text` for notifications, blocks for the layout. */
function slackMessage(alert: Alert): unknown {
  const headline = `${SEVERITY_LABEL[alert.severity]}: ${alert.type} ${alert.subject}`;
  const lines = [
    `*subject*: ${alert.subject}`,
    `*at*: ${alert.occurredAt}`,
    ...facts(alert).map((f) => `*${f.title}*: ${f.value}`),
  ];
  return {
    text: `${headline} — ${alert.summary}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: headline.slice(0, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: alert.summary } },
      { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, 3000) } },
    ],
  };
}
