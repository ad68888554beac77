import { version as kvguardVersion } from '../package.json';
import { readFileSync } from 'node:fs';
import { createAlertSinks } from './adapters/alert-sinks';
import { BlobBackupStore, BlobStateStore } from './adapters/blob-backup-store';
import { createCredential } from './adapters/credential';
import { createKeyVaultPortFactory, createSharedBudget } from './adapters/key-vault';
import { createBlobServiceClient, createQueueServiceClient } from './adapters/storage-clients';
import { StorageJobQueue } from './adapters/storage-queue';
import { createConsoleLogger, createTelemetry } from './adapters/telemetry';
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

/** Wires the adapters for a configuration; `logger` defaults to JSON lines on stdout. */
export function createServices(config: KvGuardConfig, logger: Logger = createConsoleLogger('kvguard')): Services {
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
