import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALERT_TYPES, createAlerts, dedupeStateKey } from '../../src/core/alerts';
import type { Alert, AlertSink } from '../../src/core/ports';
import { InMemoryAlertOutbox, kvError, ManualClock, RecordingLogger, RecordingTelemetry } from '../support/in-memory';

/** A sink that records what it received and fails its first `failures` sends. */
class RecordingSink implements AlertSink {
  readonly received: Alert[] = [];
  attempts = 0;
  constructor(
    readonly name: string,
    private failures = 0,
  ) {}
  async send(alert: Alert): Promise<void> {
    this.attempts += 1;
    if (this.failures > 0) {
      this.failures -= 1;
      throw kvError('Transient', `${this.name} is down`);
    }
    this.received.push(alert);
  }
}

function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    type: ALERT_TYPES.objectDeleted,
    severity: 'warning',
    subject: 'contoso/key/db-key',
    summary: 'The key db-key in vault contoso was deleted.',
    dedupeKey: 'deleted/contoso/key/db-key/2025-01-01T00:00:00.000Z',
    occurredAt: '2025-01-01T00:00:00.000Z',
    data: { vault: 'contoso', name: 'db-key' },
    ...overrides,
  };
}

function setup(sinks: AlertSink[], options: { outbox?: InMemoryAlertOutbox; clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock();
  const logger = new RecordingLogger();
  const telemetry = new RecordingTelemetry();
  const outbox = options.outbox ?? new InMemoryAlertOutbox();
  const alerts = createAlerts({ sinks, outbox, logger, telemetry, clock, delivery: { parkAfterHours: 2 } });
  return { alerts, clock, logger, telemetry, outbox };
}

describe('createAlerts', () => {
  it('sends an alert to every sink and records it as delivered', async () => {
    const a = new RecordingSink('a');
    const b = new RecordingSink('b');
    const { alerts, telemetry, outbox } = setup([a, b]);
    const receipt = await alerts.raise(alert());
    expect(a.received).toEqual([alert()]);
    expect(b.received).toEqual([alert()]);
    expect(receipt).toEqual({ recorded: true, status: 'delivered', delivered: ['a', 'b'], waiting: [] });
    expect(telemetry.metricValues('kvguard.alert.raised')).toEqual([1]);
    expect(await outbox.pending(10)).toEqual([]);
    expect((await outbox.recent(10)).map((e) => e.status)).toEqual(['delivered']);
  });

  it('sends to the sinks concurrently, not one after the other', async () => {
    const started: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = (name: string): AlertSink => ({
      name,
      send: async () => {
        started.push(name);
        await gate;
      },
    });
    const { alerts } = setup([slow('a'), slow('b')]);
    const raised = alerts.raise(alert());
    for (let i = 0; i < 10 && started.length < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a', 'b']);
    release();
    await raised;
  });

  it('raises an alert once per dedupe key, however often and however concurrently it is raised', async () => {
    const sink = new RecordingSink('a');
    const { alerts, clock } = setup([sink]);
    await Promise.all([alerts.raise(alert()), alerts.raise(alert()), alerts.raise(alert())]);
    clock.advance(3 * 3_600_000);
    await alerts.raise(alert({ summary: 'same key, other words' }));
    await alerts.raise(alert({ dedupeKey: 'deleted/contoso/key/other-key/2025-01-01T00:00:00.000Z' }));
    await alerts.deliverPending();
    expect(sink.received.map((a) => a.dedupeKey)).toEqual([
      'deleted/contoso/key/db-key/2025-01-01T00:00:00.000Z',
      'deleted/contoso/key/other-key/2025-01-01T00:00:00.000Z',
    ]);
  });

  it('retries a failing sink with backoff within a pass while the others deliver at once', async () => {
    const flaky = new RecordingSink('flaky', 2);
    const healthy = new RecordingSink('healthy');
    const { alerts, clock } = setup([flaky, healthy]);
    await alerts.raise(alert());
    expect(flaky.attempts).toBe(3);
    expect(flaky.received).toHaveLength(1);
    expect(healthy.attempts).toBe(1);
    expect(clock.slept).toEqual([500, 1000]);
  });

  it('delivers an alert exactly once when its sink is down for several passes, then up', async () => {
    const sink = new RecordingSink('webhook', 3 * 4);
    const healthy = new RecordingSink('topic');
    const { alerts, outbox, clock } = setup([sink, healthy]);
    const receipt = await alerts.raise(alert());
    expect(receipt).toMatchObject({ recorded: true, status: 'pending', delivered: ['topic'], waiting: ['webhook'] });
    for (let pass = 0; pass < 3; pass++) {
      clock.advance(60_000);
      expect((await alerts.deliverPending()).map((e) => e.status)).toEqual(['pending']);
    }
    expect(sink.received).toHaveLength(0);
    clock.advance(60_000);
    expect((await alerts.deliverPending()).map((e) => e.status)).toEqual(['delivered']);
    clock.advance(60_000);
    expect(await alerts.deliverPending()).toEqual([]);
    expect(sink.received).toHaveLength(1);
    expect(healthy.received).toHaveLength(1);
    const [entry] = await outbox.recent(5);
    expect(entry).toMatchObject({ status: 'delivered', passes: 5 });
    expect(entry!.deliveries.webhook).toMatchObject({ status: 'delivered', attempts: 13 });
    expect(entry!.deliveries.topic).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('parks an alert no sink would take after the park age, naming the failure', async () => {
    const broken = new RecordingSink('broken', Number.POSITIVE_INFINITY);
    const { alerts, outbox, clock, telemetry, logger } = setup([broken]);
    await expect(alerts.raise(alert())).resolves.toMatchObject({ status: 'pending', waiting: ['broken'] });
    clock.advance(2 * 3_600_000);
    const [parked] = await alerts.deliverPending();
    expect(parked).toMatchObject({ status: 'parked' });
    expect(parked!.parkedReason).toBe('undelivered after 2 h; broken: Transient: broken is down');
    expect(await outbox.pending(5)).toEqual([]);
    expect(await outbox.recent(5)).toEqual([expect.objectContaining({ status: 'parked' })]);
    expect(telemetry.metricValues('kvguard.alert.parked')).toEqual([1]);
    expect(logger.messages('error')).toContain(`alert parked: ${parked!.parkedReason}`);
  });

  it('parks at once in a deployment without sinks, and leaves the alert for the timer in a CLI without sinks', async () => {
    const { alerts: deployment } = setup([]);
    await expect(deployment.raise(alert())).resolves.toMatchObject({ status: 'parked' });
    const outbox = new InMemoryAlertOutbox();
    const clock = new ManualClock();
    const cli = createAlerts({
      sinks: [],
      outbox,
      logger: new RecordingLogger(),
      telemetry: new RecordingTelemetry(),
      clock,
      delivery: { withoutSinks: 'wait' },
    });
    await expect(cli.raise(alert())).resolves.toMatchObject({ recorded: true, status: 'pending', waiting: [] });
    const webhook = new RecordingSink('webhook');
    const timer = setup([webhook], { outbox, clock });
    await timer.alerts.deliverPending();
    expect(webhook.received).toEqual([alert()]);
  });

  it('throws when the alert cannot be recorded, so nothing that depends on it moves on', async () => {
    const outbox = new InMemoryAlertOutbox().failNext('record', kvError('Transient', 'storage down'));
    const sink = new RecordingSink('a');
    const { alerts } = setup([sink], { outbox });
    await expect(alerts.raise(alert())).rejects.toThrow('storage down');
    expect(sink.received).toEqual([]);
  });

  it('delivers after a restart an alert whose process died between recording and delivering', async () => {
    const outbox = new InMemoryAlertOutbox();
    const clock = new ManualClock();
    const hanging: AlertSink = { name: 'webhook', send: () => new Promise<void>(() => {}) };
    void setup([hanging], { outbox, clock }).alerts.raise(alert());
    await new Promise((resolve) => setImmediate(resolve));
    expect((await outbox.pending(5)).map((s) => s.entry.leaseUntil)).toEqual(['2025-01-01T00:02:00.000Z']);
    const webhook = new RecordingSink('webhook');
    const restarted = setup([webhook], { outbox, clock });
    await restarted.alerts.deliverPending();
    expect(webhook.received).toEqual([]);
    clock.advance(120_001);
    await restarted.alerts.deliverPending();
    await restarted.alerts.deliverPending();
    expect(webhook.received).toEqual([alert()]);
  });
});

describe('dedupeStateKey', () => {
  it('keeps keys blob-safe and distinct for ids that differ only in unsafe characters', () => {
    const a = dedupeStateKey('events', '/subscriptions/x|id 1');
    const b = dedupeStateKey('events', '/subscriptions/x|id?1');
    expect(a).toMatch(/^events\/[a-z0-9._-]+$/);
    expect(a).not.toBe(b);
  });

  it('makes a key the state store accepts from any input at all', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (id) => {
        const key = dedupeStateKey('events', id);
        expect(key).toMatch(/^events\/[a-z0-9-]*[0-9a-f]{16}$/);
        expect(key).not.toContain('..');
      }),
      { numRuns: 500 },
    );
    expect(dedupeStateKey('events', '/a/../b|..')).not.toContain('..');
  });
});
