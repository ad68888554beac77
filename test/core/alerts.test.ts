import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALERT_TYPES, createAlerts, dedupeStateKey } from '../../src/core/alerts';
import type { Alert, AlertSink, StateStore } from '../../src/core/ports';
import { InMemoryStateStore, kvError, ManualClock, RecordingLogger, RecordingTelemetry } from '../support/in-memory';

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

function setup(sinks: AlertSink[], state: StateStore = new InMemoryStateStore()) {
  const clock = new ManualClock();
  const logger = new RecordingLogger();
  const telemetry = new RecordingTelemetry();
  const alerts = createAlerts({ sinks, state, logger, telemetry, clock });
  return { alerts, clock, logger, telemetry, state };
}

describe('createAlerts', () => {
  it('sends an alert to every sink', async () => {
    const a = new RecordingSink('a');
    const b = new RecordingSink('b');
    const { alerts, telemetry } = setup([a, b]);
    await alerts.raise(alert());
    expect(a.received).toEqual([alert()]);
    expect(b.received).toEqual([alert()]);
    expect(telemetry.metricValues('kvguard.alert.raised')).toEqual([1]);
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
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a', 'b']);
    release();
    await raised;
  });

  it('raises an alert once per dedupe key, however often and however concurrently it is raised', async () => {
    const sink = new RecordingSink('a');
    const { alerts } = setup([sink]);
    await Promise.all([alerts.raise(alert()), alerts.raise(alert()), alerts.raise(alert())]);
    await alerts.raise(alert({ summary: 'same key, other words' }));
    await alerts.raise(alert({ dedupeKey: 'deleted/contoso/key/other-key/2025-01-01T00:00:00.000Z' }));
    expect(sink.received.map((a) => a.dedupeKey)).toEqual([
      'deleted/contoso/key/db-key/2025-01-01T00:00:00.000Z',
      'deleted/contoso/key/other-key/2025-01-01T00:00:00.000Z',
    ]);
  });

  it('retries a failing sink with backoff while the others deliver at once', async () => {
    const flaky = new RecordingSink('flaky', 2);
    const healthy = new RecordingSink('healthy');
    const { alerts, clock } = setup([flaky, healthy]);
    await alerts.raise(alert());
    expect(flaky.attempts).toBe(3);
    expect(flaky.received).toHaveLength(1);
    expect(healthy.attempts).toBe(1);
    expect(clock.slept).toEqual([500, 1000]);
  });

  it('never throws when a sink keeps failing, and logs the failure without the alert data', async () => {
    const broken = new RecordingSink('broken', Number.POSITIVE_INFINITY);
    const healthy = new RecordingSink('healthy');
    const { alerts, logger, telemetry } = setup([broken, healthy]);
    await expect(alerts.raise(alert())).resolves.toBeUndefined();
    expect(broken.attempts).toBe(3);
    expect(healthy.received).toHaveLength(1);
    expect(logger.records.filter((r) => r.level === 'error').map((r) => r.message)).toContain(
      'alert sink broken failed (attempt 3/3)',
    );
    expect(telemetry.metrics).toContainEqual({
      name: 'kvguard.alert.sinkFailed',
      value: 1,
      properties: { sink: 'broken', type: ALERT_TYPES.objectDeleted },
    });
  });

  it('tries again later when no sink could deliver, but not once one did', async () => {
    const sink = new RecordingSink('only', 3);
    const { alerts } = setup([sink]);
    await alerts.raise(alert());
    expect(sink.received).toHaveLength(0);
    await alerts.raise(alert());
    expect(sink.received).toHaveLength(1);
    await alerts.raise(alert());
    expect(sink.received).toHaveLength(1);
  });

  it('still sends when the state store is down (a duplicate is better than a lost alert)', async () => {
    const down: StateStore = {
      read: async () => {
        throw kvError('Transient', 'storage down');
      },
      write: async () => {
        throw kvError('Transient', 'storage down');
      },
    };
    const sink = new RecordingSink('a');
    const { alerts, logger } = setup([sink], down);
    await alerts.raise(alert());
    expect(sink.received).toHaveLength(1);
    expect(logger.messages('warn')).toContain('alert de-duplication unavailable; sending anyway');
  });

  it('takes over a claim left pending by a process that died mid-send', async () => {
    const state = new InMemoryStateStore();
    const key = dedupeStateKey('alerts', alert().dedupeKey);
    await state.write(key, { status: 'pending', claimedAt: '2025-01-01T00:00:00.000Z' });
    const sink = new RecordingSink('a');
    const { alerts, clock } = setup([sink], state);
    await alerts.raise(alert());
    expect(sink.received).toHaveLength(0);
    clock.advance(6 * 60_000);
    await alerts.raise(alert());
    expect(sink.received).toHaveLength(1);
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
