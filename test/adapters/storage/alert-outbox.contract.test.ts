/**
 * One contract for the alert outbox, run against the in-memory fake and the blob adapter on Azurite, so the fake the
 * use-case tests rely on cannot drift from the real thing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobAlertOutbox } from '../../../src/adapters/blob-alert-outbox';
import { createAlerts } from '../../../src/core/alerts';
import type { Alert, AlertOutbox, OutboxEntry } from '../../../src/core/ports';
import { isKvGuardError } from '../../../src/core/errors';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../../support/azurite';
import { InMemoryAlertOutbox, ManualClock, RecordingLogger, RecordingTelemetry } from '../../support/in-memory';

let azurite: TestAzurite;

beforeAll(async () => {
  azurite = await startTestAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

function entry(id: string, overrides: Partial<OutboxEntry> = {}): OutboxEntry {
  const alert: Alert = {
    type: 'kvguard.ObjectDeleted',
    severity: 'warning',
    subject: `contoso/key/${id}`,
    summary: `The key ${id} was deleted.`,
    dedupeKey: id,
    occurredAt: '2025-01-01T00:00:00.000Z',
    data: {},
  };
  return {
    id,
    alert,
    recordedAt: '2025-01-01T00:00:00.000Z',
    status: 'pending',
    deliveries: {},
    passes: 0,
    ...overrides,
  };
}

const outboxes: [string, () => AlertOutbox][] = [
  ['in memory', () => new InMemoryAlertOutbox()],
  ['blob (Azurite)', () => new BlobAlertOutbox(azurite.blobService().getContainerClient(uniqueStorageName('outbox')))],
];

describe.each(outboxes)('alert outbox contract: %s', (_name, create) => {
  it('records an alert once, however often it is recorded, even after it finished', async () => {
    const outbox = create();
    expect(await outbox.record(entry('a'))).toEqual(expect.any(String));
    expect(await outbox.record(entry('a'))).toBeUndefined();
    const [stored] = await outbox.pending(10);
    await outbox.finish({ ...stored!.entry, status: 'delivered', finishedAt: '2025-01-01T00:01:00.000Z' });
    expect(await outbox.record(entry('a'))).toBeUndefined();
    expect(await outbox.pending(10)).toEqual([]);
  });

  it('updates a pending entry only at the etag it was read at', async () => {
    const outbox = create();
    const etag = (await outbox.record(entry('b')))!;
    const next = await outbox.update({ ...entry('b'), passes: 1 }, etag);
    expect((await outbox.readPending('b'))?.entry.passes).toBe(1);
    await expect(outbox.update({ ...entry('b'), passes: 2 }, etag)).rejects.toSatisfy((e) =>
      isKvGuardError(e, 'Conflict'),
    );
    await outbox.update({ ...entry('b'), passes: 2 }, next);
    expect((await outbox.readPending('b'))?.entry.passes).toBe(2);
  });

  it('lists pending entries oldest first, then the history newest first', async () => {
    const outbox = create();
    await outbox.record(entry('late', { recordedAt: '2025-01-01T00:05:00.000Z' }));
    await outbox.record(entry('early', { recordedAt: '2025-01-01T00:01:00.000Z' }));
    for (const [id, at] of [
      ['done-1', '2025-01-01T00:02:00.000Z'],
      ['done-2', '2025-01-01T00:03:00.000Z'],
    ] as const) {
      await outbox.record(entry(id));
      await outbox.finish(entry(id, { status: 'delivered', finishedAt: at }));
    }
    expect((await outbox.pending(10)).map((s) => s.entry.id)).toEqual(['early', 'late']);
    expect((await outbox.recent(10)).map((e) => e.id)).toEqual(['early', 'late', 'done-2', 'done-1']);
    expect((await outbox.recent(3)).map((e) => e.id)).toEqual(['early', 'late', 'done-2']);
  });

  it('delivers after a restart an alert recorded by a process that died before delivering it', async () => {
    const outbox = create();
    const clock = new ManualClock();
    const common = { logger: new RecordingLogger(), telemetry: new RecordingTelemetry(), clock, outbox };
    const hanging = createAlerts({ ...common, sinks: [{ name: 'webhook', send: () => new Promise<void>(() => {}) }] });
    void hanging.raise(entry('c').alert);
    for (let i = 0; i < 50 && (await outbox.pending(1))[0]?.entry.leaseUntil === undefined; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const received: Alert[] = [];
    const restarted = createAlerts({
      ...common,
      sinks: [{ name: 'webhook', send: async (a) => void received.push(a) }],
    });
    clock.advance(121_000);
    await restarted.deliverPending();
    await restarted.deliverPending();
    expect(received.map((a) => a.dedupeKey)).toEqual(['c']);
    expect((await outbox.recent(5)).map((e) => [e.id.replace(/-[0-9a-f]{16}$/, ''), e.status])).toEqual([
      ['c', 'delivered'],
    ]);
  });
});
