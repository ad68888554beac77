import { describe, expect, it } from 'vitest';
import { runDoctor, type DoctorSettings } from '../../src/core/doctor';
import { silentLogger, systemClock, type AlertSink, type StorageProbe } from '../../src/core/ports';
import { InMemoryStateStore } from '../support/in-memory';

const settings: DoctorSettings = {
  vaults: [],
  container: 'kvguard-backups',
  createsContainers: false,
  queues: ['kvguard-backup-jobs'],
  discovery: { subscriptions: [], tagName: 'kvguard', types: ['key'], critical: { kind: 'all' } },
  appInsightsConfigured: true,
  sendTestAlert: false,
};

/** A probe of an Azure account (not local) answering as told. */
function azureProbe(answers: { hasPolicy?: boolean; overwriteRefused: boolean; deleteRefused: boolean }): StorageProbe {
  return {
    local: false,
    backupContainerExists: async () => true,
    backupImmutability: async () => ({ hasPolicy: answers.hasPolicy }),
    probeTamper: async () => ({ canary: 'doctor/canary-1.txt', ...answers }),
    queueExists: async () => true,
  };
}

function deps(probe: StorageProbe, sinks: AlertSink[] = []) {
  return {
    vaults: {
      open: () => {
        throw new Error('no vault is configured');
      },
    },
    probe,
    sinks,
    state: new InMemoryStateStore(),
    logger: silentLogger,
    clock: systemClock,
  };
}

const storageOutcomes = (report: Awaited<ReturnType<typeof runDoctor>>) =>
  report.checks.filter((c) => c.check.startsWith('storage.')).map((c) => [c.check, c.outcome]);

describe('kvguard doctor against Azure storage', () => {
  it('passes WORM when a retention policy is present and overwrite and delete are both refused', async () => {
    const report = await runDoctor(
      settings,
      deps(azureProbe({ hasPolicy: true, overwriteRefused: true, deleteRefused: true })),
    );
    expect(storageOutcomes(report)).toEqual([
      ['storage.container', 'pass'],
      ['storage.immutability', 'pass'],
      ['storage.tamperProof', 'pass'],
    ]);
    expect(report.ok).toBe(true);
  });

  it('fails, with the fix, when there is no policy or the identity could delete a backup', async () => {
    const report = await runDoctor(
      settings,
      deps(azureProbe({ hasPolicy: false, overwriteRefused: true, deleteRefused: false })),
    );
    expect(storageOutcomes(report)).toEqual([
      ['storage.container', 'pass'],
      ['storage.immutability', 'fail'],
      ['storage.tamperProof', 'fail'],
    ]);
    const tamper = report.checks.find((c) => c.check === 'storage.tamperProof')!;
    expect(tamper.detail).toBe('this identity could delete doctor/canary-1.txt');
    expect(tamper.fix).toMatch(/Storage Blob Data Owner/);
    expect(report).toMatchObject({ ok: false, counts: { fail: 2 } });
  });

  it('delivers a test alert through every sink on request and fails the sink that refuses it', async () => {
    const sent: string[] = [];
    const sinks: AlertSink[] = [
      { name: 'webhook', send: async (alert) => void sent.push(alert.type) },
      { name: 'eventgrid', send: async () => Promise.reject(new Error('401 from the topic')) },
    ];
    const probe = azureProbe({ hasPolicy: true, overwriteRefused: true, deleteRefused: true });
    const report = await runDoctor({ ...settings, sendTestAlert: true }, deps(probe, sinks));
    expect(sent).toEqual(['kvguard.TestAlert']);
    expect(report.checks.filter((c) => c.check === 'alerts.testDelivery').map((c) => [c.subject, c.outcome])).toEqual([
      ['webhook', 'pass'],
      ['eventgrid', 'fail'],
    ]);
  });
});
