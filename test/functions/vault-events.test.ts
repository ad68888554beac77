import { InvocationContext } from '@azure/functions';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useServices, type Services } from '../../src/composition';
import { loadConfig } from '../../src/config';
import { createAlerts } from '../../src/core/alerts';
import type { BackupJob, RestoreJob } from '../../src/core/jobs';
import type { Alert } from '../../src/core/ports';
import { vaultEventsFunction } from '../../src/functions/vault-events';
import { functionDefinitions } from '../../src/functions';
import { keyVaultObjectEvent } from '../core/events/fixtures';
import {
  InMemoryBackupStore,
  InMemoryQueue,
  InMemoryAlertOutbox,
  InMemoryStateStore,
  InMemoryVaultFactory,
  kvError,
  ManualClock,
  RecordingLogger,
  RecordingTelemetry,
} from '../support/in-memory';

let backupQueue: InMemoryQueue<BackupJob>;
let delivered: Alert[];
let lines: { level: string; text: string }[];

function context(): InvocationContext {
  return new InvocationContext({
    invocationId: 'test-invocation',
    functionName: 'vaultEvents',
    logHandler: (level, ...args) => lines.push({ level, text: args.map(String).join(' ') }),
  });
}

beforeEach(() => {
  const config = loadConfig({
    KVGUARD_VAULTS: 'https://contoso.vault.azure.net/',
    KVGUARD_STORAGE: 'UseDevelopmentStorage=true',
  });
  const clock = new ManualClock();
  const state = new InMemoryStateStore();
  const logger = new RecordingLogger();
  const telemetry = new RecordingTelemetry();
  backupQueue = new InMemoryQueue<BackupJob>();
  delivered = [];
  lines = [];
  const outbox = new InMemoryAlertOutbox();
  const alerts = createAlerts({
    sinks: [
      { name: 'down', send: async () => Promise.reject(kvError('Transient', 'sink down')) },
      { name: 'recording', send: async (a) => void delivered.push(a) },
    ],
    outbox,
    logger,
    telemetry,
    clock,
    retry: { attempts: 2, initialDelayMs: 1 },
  });
  const services: Services = {
    config,
    vaults: new InMemoryVaultFactory(),
    store: new InMemoryBackupStore(),
    state,
    backupQueue,
    restoreQueue: new InMemoryQueue<RestoreJob>(),
    alerts,
    alertOutbox: outbox,
    telemetry,
    logger,
    clock,
  };
  useServices(services);
});

afterEach(() => useServices(undefined));

describe('vaultEvents function', () => {
  it('is registered under the name the Event Grid subscription and the dev host use', () => {
    expect(functionDefinitions.find((d) => d.name === 'vaultEvents')).toBe(vaultEventsFunction);
    expect(vaultEventsFunction.trigger).toBe('eventGrid');
  });

  it('enqueues a snapshot for a new key version and logs what it did', async () => {
    await vaultEventsFunction.handler(
      keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { id: 'e1', name: 'db-key' }),
      context(),
    );
    expect(backupQueue.jobs.map((j) => [j.trigger, j.objects])).toEqual([['event', [{ type: 'key', name: 'db-key' }]]]);
    expect(
      lines.some(
        (l) =>
          l.level === 'information' && l.text.includes('vault event handled') && l.text.includes('snapshot key/db-key'),
      ),
    ).toBe(true);
  });

  it('handles a batch split by the host one event at a time: a malformed one is logged with its reason, the rest proceed', async () => {
    const batch: unknown[] = [
      keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { id: 'a', name: 'k1' }),
      { id: 'b', eventType: 'Microsoft.KeyVault.KeyNewVersionCreated', data: 'not an object' },
      keyVaultObjectEvent('Microsoft.KeyVault.SecretNewVersionCreated', { id: 'c', name: 's1', schema: 'CloudEvents' }),
    ];
    for (const event of batch) await expect(vaultEventsFunction.handler(event, context())).resolves.toBeUndefined();
    expect(backupQueue.jobs.map((j) => j.objects![0]!.name)).toEqual(['k1', 's1']);
    const rejection = lines.find((l) => l.text.includes('vault event rejected'));
    expect(rejection?.level).toBe('warning');
    expect(rejection?.text).toContain('data is not an object');
  });

  it('makes one snapshot and one alert of a triple delivery, even with an alert sink down', async () => {
    const snapshot = keyVaultObjectEvent('Microsoft.KeyVault.CertificateNearExpiry', { id: 'n1', name: 'web-tls' });
    const expired = keyVaultObjectEvent('Microsoft.KeyVault.CertificateExpired', { id: 'x1', name: 'web-tls' });
    for (let i = 0; i < 3; i++) {
      await vaultEventsFunction.handler(snapshot, context());
      await vaultEventsFunction.handler(expired, context());
    }
    expect(backupQueue.jobs).toHaveLength(1);
    expect(delivered.map((a) => a.type)).toEqual(['kvguard.CertificateExpired']);
  });
});
