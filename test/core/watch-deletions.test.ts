import { describe, expect, it } from 'vitest';
import { anyDocument, backupRecordOf } from '../support/catalog-fixtures';
import { ALERT_TYPES, createAlerts } from '../../src/core/alerts';
import type { Alert, Alerts } from '../../src/core/ports';
import type { VaultTarget } from '../../src/core/domain';
import { watchDeletions } from '../../src/core/watch-deletions';
import {
  InMemoryBackupStore,
  InMemoryStateStore,
  InMemoryVault,
  InMemoryVaultFactory,
  ManualClock,
  recordingAlerts,
  InMemoryAlertOutbox,
  kvError,
  RecordingTelemetry,
  RecordingLogger,
} from '../support/in-memory';

const HOUR = 3_600_000;

function target(vault: InMemoryVault): VaultTarget {
  return { url: vault.url, name: vault.name, types: ['key', 'secret', 'certificate'], critical: { kind: 'all' } };
}

function setup() {
  const clock = new ManualClock('2025-03-01T12:00:00.000Z');
  const factory = new InMemoryVaultFactory();
  const vault = factory.add(new InMemoryVault('https://contoso.vault.azure.net/', { clock, pageSize: 2 }));
  const store = new InMemoryBackupStore();
  const state = new InMemoryStateStore();
  const logger = new RecordingLogger();
  const { alerts, received } = recordingAlerts({ logger, clock });
  const targets = [target(vault)];
  const watch = () => watchDeletions({ vaults: targets, open: factory, store, state, alerts, logger, clock });
  return { clock, factory, vault, store, state, received, watch, targets, logger };
}

async function storeBackup(store: InMemoryBackupStore, name: string, takenAt: string): Promise<void> {
  const bytes = new Uint8Array([1]);
  await store.putBackup(
    backupRecordOf(bytes, takenAt, { vault: 'contoso', name, fingerprint: 'f', runId: 'r' }),
    bytes,
  );
}

describe('watchDeletions', () => {
  it('records a baseline on the first run and alerts only on deletions within the look-back', async () => {
    const { vault, clock, watch, received } = setup();
    vault.seedKey('old-key').seedKey('fresh-key').seedKey('live-key');
    await vault.delete('key', 'old-key');
    clock.advance(47 * HOUR);
    await vault.delete('key', 'fresh-key');
    clock.advance(1 * HOUR);
    const summary = await watch();
    expect(summary.vaults[0]).toMatchObject({ status: 'ok', baseline: true, live: 1, softDeleted: 2 });
    expect(summary.vaults[0]!.deleted.map((f) => f.name)).toEqual(['fresh-key']);
    expect(received.map((a) => a.subject)).toEqual(['contoso/key/fresh-key']);
  });

  it("alerts once on a newly deleted object with its dates and kvguard's newest backup of it", async () => {
    const { vault, clock, store, watch, received } = setup();
    vault.seedKey('db-key').seedKey('other');
    await storeBackup(store, 'db-key', '2025-03-01T06:00:00.000Z');
    await watch();
    clock.advance(HOUR);
    await vault.delete('key', 'db-key');
    clock.advance(5 * 60_000);
    const summary = await watch();
    expect(summary.vaults[0]!.deleted).toEqual([
      {
        type: 'key',
        name: 'db-key',
        deletedOn: '2025-03-01T13:00:00.000Z',
        scheduledPurgeDate: '2025-05-30T13:00:00.000Z',
        newestBackupAt: '2025-03-01T06:00:00.000Z',
        newestBackupAgeHours: 7.1,
        newestBackupAge: '7.1 h',
      },
    ]);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      type: ALERT_TYPES.objectDeleted,
      severity: 'warning',
      subject: 'contoso/key/db-key',
    });
    expect(received[0]!.summary).toContain('deleted on 2025-03-01T13:00:00.000Z');
    expect(received[0]!.summary).toContain('recovered until 2025-05-30T13:00:00.000Z');
    expect(received[0]!.summary).toContain('newest backup of it is from 2025-03-01T06:00:00.000Z (7.1 h old)');
    clock.advance(5 * 60_000);
    const again = await watch();
    expect(again.vaults[0]!.deleted).toEqual([]);
    expect(received).toHaveLength(1);
  });

  it('raises a critical alert when a soft-deleted object is purged', async () => {
    const { vault, clock, watch, received } = setup();
    vault.seedSecret('api-token');
    await watch();
    await vault.delete('secret', 'api-token');
    clock.advance(5 * 60_000);
    await watch();
    await vault.purge('secret', 'api-token');
    clock.advance(5 * 60_000);
    const summary = await watch();
    expect(summary.vaults[0]!.purged.map((f) => [f.type, f.name])).toEqual([['secret', 'api-token']]);
    expect(received.map((a) => [a.type, a.severity])).toEqual([
      [ALERT_TYPES.objectDeleted, 'warning'],
      [ALERT_TYPES.objectPurged, 'critical'],
    ]);
    expect(received[1]!.summary).toContain('holds no backup of it');
    // The pass reports the alerts it raised, so `kvguard watch --once --json` shows them without a sink.
    expect(summary.vaults[0]!.alerts).toEqual([
      {
        type: ALERT_TYPES.objectPurged,
        severity: 'critical',
        subject: 'contoso/secret/api-token',
        summary: received[1]!.summary,
        new: true,
        status: 'delivered',
        delivered: ['recording'],
        waiting: [],
      },
    ]);
  });

  it('reports a live object that disappeared without showing up as deleted', async () => {
    const { vault, clock, watch, received } = setup();
    vault.seedCertificate('web-tls').seedKey('k');
    await watch();
    await vault.delete('certificate', 'web-tls');
    await vault.purge('certificate', 'web-tls');
    clock.advance(5 * 60_000);
    const summary = await watch();
    expect(summary.vaults[0]!.vanished.map((f) => [f.type, f.name])).toEqual([['certificate', 'web-tls']]);
    expect(received.map((a) => [a.type, a.severity, a.subject])).toEqual([
      [ALERT_TYPES.objectVanished, 'critical', 'contoso/certificate/web-tls'],
    ]);
  });

  it('notes a recovered object without alerting, and alerts again when it is deleted anew', async () => {
    const { vault, clock, watch, received } = setup();
    vault.seedKey('k1');
    await watch();
    await vault.delete('key', 'k1');
    clock.advance(5 * 60_000);
    await watch();
    await vault.recover('key', 'k1');
    clock.advance(5 * 60_000);
    const recovered = await watch();
    expect(recovered.vaults[0]!.recovered.map((f) => f.name)).toEqual(['k1']);
    expect(recovered.vaults[0]!.purged).toEqual([]);
    await vault.delete('key', 'k1');
    clock.advance(5 * 60_000);
    await watch();
    expect(received.map((a) => a.type)).toEqual([ALERT_TYPES.objectDeleted, ALERT_TYPES.objectDeleted]);
  });

  it('reads every page of a large vault before deciding what vanished', async () => {
    const { vault, clock, watch, received } = setup();
    for (let i = 0; i < 7; i++) vault.seedKey(`key-${i}`);
    await watch();
    clock.advance(5 * 60_000);
    const summary = await watch();
    expect(summary.vaults[0]).toMatchObject({ live: 7, vanished: [] });
    expect(received).toEqual([]);
  });

  it('keeps watching the other vaults when one fails, and reports the failure', async () => {
    const { factory, clock, store, state, logger, vault, targets } = setup();
    const forbidden = factory.add(new InMemoryVault('https://locked.vault.azure.net/', { clock }));
    factory.forbid(forbidden.url);
    vault.seedKey('k1');
    const { alerts, received } = recordingAlerts({ logger, clock });
    const watch = () =>
      watchDeletions({ vaults: [target(forbidden), ...targets], open: factory, store, state, alerts, logger, clock });
    await watch();
    await vault.delete('key', 'k1');
    const summary = await watch();
    expect(summary.vaults.map((v) => [v.vault, v.status, v.error?.code])).toEqual([
      ['locked', 'failed', 'Forbidden'],
      ['contoso', 'ok', undefined],
    ]);
    expect(received.map((a) => a.subject)).toEqual(['contoso/key/k1']);
  });

  it('does not raise an alert twice when a run is repeated before its state was saved', async () => {
    const { vault, clock, watch, received, state } = setup();
    vault.seedKey('k1');
    await watch();
    await vault.delete('key', 'k1');
    clock.advance(5 * 60_000);
    const before = await state.read('watch/contoso', anyDocument);
    await watch();
    await state.write('watch/contoso', before!.value);
    await watch();
    expect(received).toHaveLength(1);
  });

  it('keeps its state when an alert cannot be recorded, so the next pass raises it again', async () => {
    const { vault, clock, store, state, logger, targets, factory } = setup();
    const outbox = new InMemoryAlertOutbox();
    const { alerts, received } = recordingAlerts({ logger, clock, outbox });
    const watch = () => watchDeletions({ vaults: targets, open: factory, store, state, alerts, logger, clock });
    vault.seedKey('k1');
    await watch();
    await vault.delete('key', 'k1');
    outbox.failNext('record', kvError('Transient', 'storage down'));
    clock.advance(5 * 60_000);
    expect((await watch()).vaults[0]).toMatchObject({ status: 'failed', error: { code: 'Transient' } });
    expect(received).toEqual([]);
    clock.advance(5 * 60_000);
    expect((await watch()).vaults[0]!.deleted.map((f) => f.name)).toEqual(['k1']);
    expect(received.map((a) => a.subject)).toEqual(['contoso/key/k1']);
  });

  it('the lost-alert sequence: a CLI pass without sinks records the alert and the timer delivers it once', async () => {
    const { vault, clock, store, state, logger, targets, factory } = setup();
    const outbox = new InMemoryAlertOutbox();
    const telemetry = new RecordingTelemetry();
    const webhook: Alert[] = [];
    const cliAlerts = createAlerts({ sinks: [], outbox, logger, telemetry, clock, delivery: { withoutSinks: 'wait' } });
    const hostAlerts = createAlerts({
      sinks: [{ name: 'webhook', send: async (a) => void webhook.push(a) }],
      outbox,
      logger,
      telemetry,
      clock,
    });
    const watchWith = (alerts: Alerts) =>
      watchDeletions({ vaults: targets, open: factory, store, state, alerts, logger, clock });
    vault.seedKey('k1');
    await watchWith(hostAlerts);
    await vault.delete('key', 'k1');
    clock.advance(60_000);
    const cliPass = await watchWith(cliAlerts);
    expect(cliPass.vaults[0]!.alerts).toEqual([
      expect.objectContaining({ type: 'kvguard.ObjectDeleted', new: true, status: 'pending', delivered: [] }),
    ]);
    clock.advance(5 * 60_000);
    expect((await watchWith(hostAlerts)).vaults[0]!.alerts).toEqual([]);
    expect(webhook).toEqual([]);
    await hostAlerts.deliverPending();
    await hostAlerts.deliverPending();
    expect(webhook.map((a) => a.subject)).toEqual(['contoso/key/k1']);
  });
});
