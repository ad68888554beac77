/**
 * The AlertSink contract, run against the in-memory recording sink and the real webhook and Event Grid topic sinks
 * posting to local receivers: what a use-case test sees arrive is what an operator's endpoint gets, and a refused
 * delivery is an error the alerts port can retry, never a silent success.
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventGridTopicSink, webhookSink } from '../../src/adapters/alert-sinks';
import { sinkError } from '../../src/adapters/alert-sinks/errors';
import { ALERT_TYPES } from '../../src/core/alerts';
import type { Alert, AlertSink } from '../../src/core/ports';
import { RecordingAlertSink } from '../support/in-memory';
import { localhostTls, startReceiver, type Receiver } from '../support/receiver';

/** What an alert looks like once it has arrived, whatever the wire format. */
type Delivered = Omit<Alert, 'data'> & { data: Record<string, unknown> };

/** A sink and the far end it delivers to. */
interface SinkUnderTest {
  sink: AlertSink;
  /** Alerts that arrived at the far end, decoded, oldest first. */
  delivered: () => Delivered[];
  /** Makes the far end refuse the next delivery with this HTTP status. */
  refuseNext: (status: number) => void;
}

const ALERT: Alert = {
  type: ALERT_TYPES.objectPurged,
  severity: 'critical',
  subject: 'contoso/key/db-key',
  summary: 'The key db-key in vault contoso was purged and cannot be recovered from the vault.',
  dedupeKey: 'purged/contoso/key/db-key/2025-01-01T00:00:00.000Z',
  occurredAt: '2025-03-01T12:00:00.000Z',
  data: { vault: 'contoso', type: 'key', name: 'db-key', newestBackupAt: '2025-03-01T06:00:00.000Z', versions: 3 },
};

/**
 * The behaviour every {@link AlertSink} keeps.
 * @param name - which implementation
 * @param newSink - a sink with an empty far end
 */
function alertSinkContract(name: string, newSink: () => SinkUnderTest): void {
  describe(`AlertSink contract: ${name}`, () => {
    it('has a name for logs', () => {
      expect(newSink().sink.name).toMatch(/^[A-Za-z][\w:-]*$/);
    });

    it('delivers the alert with its type, severity, subject, summary, dedupe key, time and data', async () => {
      const { sink, delivered } = newSink();
      await sink.send(ALERT);
      expect(delivered()).toEqual([ALERT]);
    });

    it('rejects when the far end refuses, and delivers the next alert once it accepts again', async () => {
      const { sink, delivered, refuseNext } = newSink();
      refuseNext(503);
      await expect(sink.send(ALERT)).rejects.toMatchObject({ code: 'Transient', statusCode: 503 });
      const next = { ...ALERT, dedupeKey: `${ALERT.dedupeKey}/2` };
      await sink.send(next);
      expect(delivered().map((a) => a.dedupeKey)).toEqual([next.dedupeKey]);
    });
  });
}

/** A credential with a fixed token (the receiver does not check it). */
const fakeCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

let webhook: Receiver;
let topic: Receiver;
let tls: { cert: string; key: string };
beforeAll(async () => {
  tls = await localhostTls();
  webhook = await startReceiver();
  topic = await startReceiver(tls);
});
afterAll(async () => {
  await webhook?.close();
  await topic?.close();
});

/** Requests the receiver accepted (a refused delivery did not arrive). */
function accepted(receiver: Receiver) {
  return receiver.requests.filter((r) => r.answered === 200);
}

/** Fresh far end for each sink under test: forget earlier requests, accept again. */
function reset(receiver: Receiver): Receiver {
  receiver.requests.length = 0;
  receiver.respondWith(200);
  return receiver;
}

alertSinkContract('in-memory recording sink', () => {
  const sink = new RecordingAlertSink();
  return {
    sink,
    delivered: () => sink.received,
    refuseNext: (status) => sink.failNext(() => sinkError(sink.name, status, `the fake answered HTTP ${status}`)),
  };
});

alertSinkContract('webhook sink (json) on a local receiver', () => {
  const receiver = reset(webhook);
  return {
    sink: webhookSink({ url: `${receiver.url}/hooks/kv?sig=secret`, format: 'json' }),
    delivered: () =>
      accepted(receiver).map((r) => {
        const { source: _source, ...alert } = r.body as Delivered & { source: string };
        return alert;
      }),
    refuseNext: (status) => receiver.respondOnceWith(status),
  };
});

alertSinkContract('Event Grid topic sink on a local HTTPS receiver', () => {
  const receiver = reset(topic);
  return {
    sink: eventGridTopicSink({
      endpoint: `${receiver.url}/api/events`,
      credential: fakeCredential,
      clientOptions: { tlsOptions: { ca: tls.cert } },
    }),
    delivered: () =>
      accepted(receiver).flatMap((r) =>
        (r.body as { eventType: string; subject: string; eventTime: string; data: Record<string, unknown> }[]).map(
          ({ eventType, subject, eventTime, data: { severity, summary, dedupeKey, ...data } }) => ({
            type: eventType,
            severity: severity as Alert['severity'],
            subject,
            summary: summary as string,
            dedupeKey: dedupeKey as string,
            occurredAt: new Date(eventTime).toISOString(),
            data,
          }),
        ),
      ),
    refuseNext: (status) => receiver.respondOnceWith(status),
  };
});
