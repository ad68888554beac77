import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAlertSinks, eventGridTopicSink, webhookSink } from '../../../src/adapters/alert-sinks';
import { ALERT_TYPES, createAlerts } from '../../../src/core/alerts';
import type { Alert } from '../../../src/core/ports';
import { InMemoryAlertOutbox, ManualClock, RecordingLogger, RecordingTelemetry } from '../../support/in-memory';
import { localhostTls, startReceiver, type Receiver } from '../../support/receiver';

const ALERT: Alert = {
  type: ALERT_TYPES.objectPurged,
  severity: 'critical',
  subject: 'contoso/key/db-key',
  summary: 'The key db-key in vault contoso was purged and cannot be recovered from the vault.',
  dedupeKey: 'purged/contoso/key/db-key/2025-01-01T00:00:00.000Z',
  occurredAt: '2025-03-01T12:00:00.000Z',
  data: { vault: 'contoso', type: 'key', name: 'db-key', newestBackupAt: '2025-03-01T06:00:00.000Z' },
};

/** A credential that hands out a fixed token (the topic receiver only checks that one is sent). */
const fakeCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** Plain HTTP for the webhook; HTTPS for the topic, because the Event Grid client refuses plain http. */
let receiver: Receiver;
let topic: Receiver;
let tls: { cert: string; key: string };
beforeAll(async () => {
  tls = await localhostTls();
  receiver = await startReceiver();
  topic = await startReceiver(tls);
});
afterAll(async () => {
  await receiver?.close();
  await topic?.close();
});
afterEach(() => {
  for (const r of [receiver, topic]) {
    r.requests.length = 0;
    r.respondWith(200);
  }
});

/** A topic sink against the local HTTPS receiver. */
function topicSink(options: { key?: string; endpoint?: string } = {}) {
  return eventGridTopicSink({
    endpoint: options.endpoint ?? `${topic.url}/api/events`,
    key: options.key,
    credential: fakeCredential,
    clientOptions: { tlsOptions: { ca: tls.cert } },
  });
}

describe('webhook sink', () => {
  it('posts the alert as generic JSON', async () => {
    await webhookSink({ url: `${receiver.url}/hooks/kv?sig=secret`, format: 'json' }).send(ALERT);
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request).toMatchObject({
      method: 'POST',
      url: '/hooks/kv?sig=secret',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(request!.body).toEqual({ source: 'kvguard', ...ALERT });
  });

  it('posts a Teams message with an Adaptive Card', async () => {
    await webhookSink({ url: receiver.url, format: 'teams' }).send(ALERT);
    const body = receiver.requests[0]!.body as {
      type: string;
      attachments: { contentType: string; content: { type: string; body: { text?: string; facts?: unknown[] }[] } }[];
    };
    expect(body.type).toBe('message');
    expect(body.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = body.attachments[0]!.content;
    expect(card.type).toBe('AdaptiveCard');
    expect(card.body[0]!.text).toBe('CRITICAL: kvguard.ObjectPurged');
    expect(card.body[1]!.text).toBe(ALERT.summary);
    expect(card.body[2]!.facts).toContainEqual({ title: 'name', value: 'db-key' });
  });

  it('posts a Slack message with text and blocks', async () => {
    await webhookSink({ url: receiver.url, format: 'slack' }).send(ALERT);
    const body = receiver.requests[0]!.body as { text: string; blocks: { type: string }[] };
    expect(body.text).toContain('CRITICAL: kvguard.ObjectPurged contoso/key/db-key');
    expect(body.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section']);
  });

  it('fails with the status, without quoting the webhook URL, when the receiver refuses', async () => {
    receiver.respondWith(500);
    const error = await webhookSink({ url: `${receiver.url}/?sig=secret`, format: 'json' })
      .send(ALERT)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'Transient',
      statusCode: 500,
      message: 'alert sink webhook:json failed: the webhook answered HTTP 500',
    });
    expect(String((error as Error).message)).not.toContain('secret');
  });

  it('gives up after its timeout when the receiver never answers', async () => {
    receiver.respondWith('hang');
    const error = await webhookSink({ url: receiver.url, format: 'json', timeoutMs: 200 })
      .send(ALERT)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'Transient', message: expect.stringContaining('timed out') });
  });
});

describe('Event Grid topic sink', () => {
  it('publishes an Event Grid event typed after the alert, with the topic key', async () => {
    await topicSink({ key: 'topic-key' }).send(ALERT);
    expect(topic.requests).toHaveLength(1);
    const [request] = topic.requests;
    expect(request!.url).toMatch(/^\/api\/events\?api-version=/);
    expect(request!.headers['aeg-sas-key']).toBe('topic-key');
    expect(request!.body).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f]{32}$/),
        eventType: 'kvguard.ObjectPurged',
        subject: 'contoso/key/db-key',
        eventTime: '2025-03-01T12:00:00.000Z',
        dataVersion: '1.0',
        data: { severity: 'critical', summary: ALERT.summary, dedupeKey: ALERT.dedupeKey, ...ALERT.data },
      },
    ]);
  });

  it('gives a retried alert the same event id, so subscribers can de-duplicate', async () => {
    const sink = topicSink({ key: 'k' });
    await sink.send(ALERT);
    await sink.send(ALERT);
    const ids = topic.requests.map((r) => (r.body as { id: string }[])[0]!.id);
    expect(ids[0]).toBe(ids[1]);
  });

  it('fails with the status when the topic refuses the key', async () => {
    topic.respondWith(401);
    const error = await topicSink({ key: 'wrong' })
      .send(ALERT)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'Unauthorized', statusCode: 401 });
    expect(topic.requests).toHaveLength(1);
  });

  it('uses the token credential when no key is set', async () => {
    await topicSink().send(ALERT);
    expect(topic.requests[0]!.headers.authorization).toBe('Bearer test-token');
    expect(topic.requests[0]!.headers['aeg-sas-key']).toBeUndefined();
  });

  it('refuses a plain-http endpoint, as Event Grid only speaks HTTPS', async () => {
    const error = await topicSink({ key: 'k', endpoint: `${receiver.url}/api/events` })
      .send(ALERT)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'Transient', message: expect.stringContaining('allowInsecureConnection') });
    expect(receiver.requests).toHaveLength(0);
  });
});

describe('createAlertSinks', () => {
  const deps = () => ({
    credential: fakeCredential,
    telemetry: new RecordingTelemetry(),
    logger: new RecordingLogger(),
  });
  const none = {
    appInsights: undefined,
    alertWebhookUrl: undefined,
    alertWebhookFormat: 'json' as const,
    alertTopicEndpoint: undefined,
    alertTopicKey: undefined,
  };

  it('configures no sink when no alert setting is given', () => {
    expect(createAlertSinks(none, deps())).toEqual([]);
  });

  it('configures each sink its setting names', () => {
    const sinks = createAlertSinks(
      {
        appInsights: 'InstrumentationKey=x',
        alertWebhookUrl: receiver.url,
        alertWebhookFormat: 'slack',
        alertTopicEndpoint: `${receiver.url}/api/events`,
        alertTopicKey: 'k',
      },
      deps(),
    );
    expect(sinks.map((s) => s.name)).toEqual(['appInsights', 'webhook:slack', 'eventGridTopic']);
  });

  it('records an Application Insights custom event through the telemetry port', async () => {
    const d = deps();
    const [sink] = createAlertSinks({ ...none, appInsights: 'InstrumentationKey=x' }, d);
    await sink!.send(ALERT);
    expect(d.telemetry.eventsNamed('kvguard.Alert')).toEqual([
      {
        name: 'kvguard.Alert',
        properties: {
          type: 'kvguard.ObjectPurged',
          severity: 'critical',
          subject: 'contoso/key/db-key',
          summary: ALERT.summary,
          dedupeKey: ALERT.dedupeKey,
          occurredAt: ALERT.occurredAt,
          data: JSON.stringify(ALERT.data),
        },
        measurements: {},
      },
    ]);
  });

  it('delivers through the healthy sinks when one keeps failing, and raising never throws', async () => {
    topic.respondWith(503);
    const d = deps();
    const sinks = [
      ...createAlertSinks({ ...none, appInsights: 'InstrumentationKey=x', alertWebhookUrl: receiver.url }, d),
      topicSink({ key: 'k' }),
    ];
    const alerts = createAlerts({
      sinks,
      outbox: new InMemoryAlertOutbox(),
      logger: d.logger,
      telemetry: d.telemetry,
      clock: new ManualClock(),
    });
    await expect(alerts.raise(ALERT)).resolves.toMatchObject({ status: 'pending', waiting: ['eventGridTopic'] });
    expect(receiver.requests).toHaveLength(1);
    expect(d.telemetry.eventsNamed('kvguard.Alert')).toHaveLength(1);
    expect(topic.requests).toHaveLength(3);
    expect(d.logger.messages('error')).toContain('alert sink eventGridTopic failed (attempt 3/3)');
  });
});
