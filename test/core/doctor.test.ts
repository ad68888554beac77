import { describe, expect, it } from 'vitest';
import { runDoctor, type DoctorSettings } from '../../src/core/doctor';
import { silentLogger, systemClock, type AlertSink, type StorageProbe } from '../../src/core/ports';
import { KvGuardError } from '../../src/core/errors';
import type { PruneMarks } from '../../src/core/retention/marks';
import { InMemoryStateStore } from '../support/in-memory';

const settings: DoctorSettings = {
  vaults: [],
  container: 'kvguard-backups',
  createsContainers: false,
  queues: ['kvguard-backup-jobs'],
  discovery: { subscriptions: [], tagName: 'kvguard', types: ['key'], critical: { kind: 'all' } },
  appInsightsConfigured: true,
  pruning: false,
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

describe('kvguard doctor on pruning', () => {
  const probe = azureProbe({ hasPolicy: true, overwriteRefused: true, deleteRefused: true });
  const pruningCheck = (report: Awaited<ReturnType<typeof runDoctor>>) =>
    report.checks.find((c) => c.check === 'retention.pruning');
  /** Tagging that answers as told, counting the attempts. */
  function marks(answer: () => Promise<{ blobName: string } | undefined>): PruneMarks & { attempts: number } {
    return {
      attempts: 0,
      async markPrunable() {
        throw new Error('the doctor must never mark a backup');
      },
      async checkTagging() {
        this.attempts += 1;
        return answer();
      },
    };
  }

  it('says pruning is off, and how to turn it on, without trying to tag', async () => {
    const tagging = marks(async () => ({ blobName: 'backups/x' }));
    const report = await runDoctor(settings, { ...deps(probe), pruneMarks: tagging });
    expect(pruningCheck(report)).toMatchObject({ outcome: 'pass', detail: expect.stringContaining('pruning off') });
    expect(pruningCheck(report)!.detail).toContain('azd env set KVGUARD_ENABLE_PRUNING true');
    expect(tagging.attempts).toBe(0);
  });

  it('passes when the prune identity can rewrite a backup tags, and fails with the fix when it is refused', async () => {
    const able = await runDoctor(
      { ...settings, pruning: true },
      { ...deps(probe), pruneMarks: marks(async () => ({ blobName: 'backups/demo/key/k/1-a.kvbak' })) },
    );
    expect(pruningCheck(able)).toMatchObject({ outcome: 'pass', detail: expect.stringContaining('can tag') });

    const refused = new KvGuardError('Forbidden', 'rewrite the tags of backups/x: 403 AuthorizationPermissionMismatch');
    const report = await runDoctor(
      { ...settings, pruning: true },
      { ...deps(probe), pruneMarks: marks(() => Promise.reject(refused)) },
    );
    expect(pruningCheck(report)).toMatchObject({
      outcome: 'fail',
      detail: expect.stringContaining('AuthorizationPermissionMismatch'),
      fix: expect.stringContaining('KVGUARD_PRUNE_CLIENT_ID'),
    });
    expect(report.ok).toBe(false);
  });

  it('cannot say before the first backup', async () => {
    const report = await runDoctor(
      { ...settings, pruning: true },
      { ...deps(probe), pruneMarks: marks(async () => undefined) },
    );
    expect(pruningCheck(report)).toMatchObject({
      outcome: 'unknown',
      detail: expect.stringContaining('no backup yet'),
    });
  });
});
