import { version as kvguardVersion } from '../package.json';
import { readFileSync } from 'node:fs';
import type * as AlertSinks from './adapters/alert-sinks';
import type * as BlobStores from './adapters/blob-backup-store';
import type * as Credentials from './adapters/credential';
import type * as KeyVault from './adapters/key-vault';
import type * as StorageClients from './adapters/storage-clients';
import type * as StorageQueue from './adapters/storage-queue';
import type * as TelemetryAdapters from './adapters/telemetry';
import { findVault, loadConfig, type KvGuardConfig } from './config';
import { createAlerts } from './core/alerts';
import type { BackupSettings } from './core/backup/backup-vault';
import type { BackupJob, RestoreJob } from './core/jobs';
import {
  systemClock,
  type Alerts,
  type BackupStore,
  type Clock,
  type JobQueue,
  type Logger,
  type StateStore,
  type Telemetry,
  type VaultPortFactory,
} from './core/ports';

/** Everything a use case may need, wired once per process from the validated configuration. */
export interface Services {
  config: KvGuardConfig;
  vaults: VaultPortFactory;
  store: BackupStore;
  state: StateStore;
  backupQueue: JobQueue<BackupJob>;
  restoreQueue: JobQueue<RestoreJob>;
  alerts: Alerts;
  telemetry: Telemetry;
  logger: Logger;
  clock: Clock;
}

let current: Services | undefined;

/**
 * The process-wide services, built on first use from `process.env` (so a bad setting fails the first invocation
 * with the setting named, and the dev host can apply local settings before that).
 */
export function services(): Services {
  current ??= createServices(loadConfig(process.env));
  return current;
}

/** Replaces the process-wide services (tests, the CLI); `undefined` makes the next call rebuild them. */
export function useServices(replacement: Services | undefined): void {
  current = replacement;
}

/** The backup use case's tunables, from the configuration. */
export function backupSettings(config: KvGuardConfig): BackupSettings {
  return {
    pageSize: config.pageSize,
    deadlineSeconds: config.runDeadlineSeconds,
    objectConcurrency: config.maxConcurrency,
    refreshDays: config.refreshDays,
    kvguardVersion,
  };
}

/** kvguard's share of a vault's published limit (operations per 10 s), in call starts per second. */
export function vaultCeilingPerSecond(config: KvGuardConfig, url: string): number {
  const limit = findVault(config, url)?.rateLimit ?? config.vaultRateLimit;
  return (limit * config.budgetShare) / 100 / 10;
}

/**
 * The adapters, loaded on first use rather than when the function app's entry module is imported: the Azure SDKs
 * take most of a cold start to load, and the Functions host imports the entry module before the first invocation.
 */
function adapters() {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    ...(require('./adapters/alert-sinks') as typeof AlertSinks),
    ...(require('./adapters/blob-backup-store') as typeof BlobStores),
    ...(require('./adapters/credential') as typeof Credentials),
    ...(require('./adapters/key-vault') as typeof KeyVault),
    ...(require('./adapters/storage-clients') as typeof StorageClients),
    ...(require('./adapters/storage-queue') as typeof StorageQueue),
    ...(require('./adapters/telemetry') as typeof TelemetryAdapters),
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** Wires the adapters for a configuration; `logger` defaults to JSON lines on stdout. */
export function createServices(config: KvGuardConfig, logger?: Logger): Services {
  const {
    createAlertSinks,
    BlobBackupStore,
    BlobStateStore,
    createCredential,
    createKeyVaultPortFactory,
    createSharedBudget,
    createBlobServiceClient,
    createQueueServiceClient,
    StorageJobQueue,
    createConsoleLogger,
    createTelemetry,
  } = adapters();
  logger ??= createConsoleLogger('kvguard');
  const clock = systemClock;
  const credential = createCredential(config.credential);
  const telemetry = createTelemetry({ connectionString: config.appInsights, logger });
  const storage = {
    connectionString: config.storageConnectionString,
    blobServiceUri: config.blobServiceUri,
    queueServiceUri: config.queueServiceUri,
    credential,
  };
  const blobs = createBlobServiceClient(storage);
  const queues = createQueueServiceClient(storage);
  const state = new BlobStateStore({ container: blobs.getContainerClient(config.stateContainer) });
  // One budget for every vault and instance: the subscription-wide limit, of which kvguard takes its share too.
  const shared =
    config.subscriptionRateLimit > 0
      ? createSharedBudget({
          state,
          key: 'budget/subscription',
          perSecond: (config.subscriptionRateLimit * config.budgetShare) / 100 / 10,
          clock,
        })
      : undefined;
  return {
    config,
    vaults: createKeyVaultPortFactory({
      credential,
      maxConcurrency: config.maxConcurrency,
      ceilingPerSecond: (url) => vaultCeilingPerSecond(config, url),
      shared,
      caCertPem: config.keyVaultCaCert ? readFileSync(config.keyVaultCaCert, 'utf8') : undefined,
      logger,
      telemetry,
      clock,
    }),
    store: new BlobBackupStore({
      container: blobs.getContainerClient(config.container),
      immutability: config.immutability,
      retentionDays: config.retentionDays,
      clock,
      logger,
    }),
    state,
    backupQueue: new StorageJobQueue(queues.getQueueClient(config.backupQueue)),
    restoreQueue: new StorageJobQueue(queues.getQueueClient(config.restoreQueue)),
    alerts: createAlerts({
      sinks: createAlertSinks(config, { credential, telemetry, logger }),
      state,
      logger,
      telemetry,
      clock,
    }),
    telemetry,
    logger,
    clock,
  };
}
