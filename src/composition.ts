import { version as kvguardVersion } from '../package.json';
import { readFileSync } from 'node:fs';
import { createAlertSinks } from './adapters/alert-sinks';
import { BlobAlertOutbox } from './adapters/blob-alert-outbox';
import { BlobBackupStore, BlobStateStore } from './adapters/blob-backup-store';
import { createCredential } from './adapters/credential';
import { createKeyVaultPortFactory } from './adapters/key-vault';
import { createBlobServiceClient, createQueueServiceClient } from './adapters/storage-clients';
import { StorageJobQueue } from './adapters/storage-queue';
import { createConsoleLogger, createTelemetry } from './adapters/telemetry';
import { loadConfig, type KvGuardConfig } from './config';
import { createAlerts, type AlertDeliveryOptions } from './core/alerts';
import type { BackupSettings } from './core/backup/backup-vault';
import type { BackupJob, RestoreJob } from './core/jobs';
import {
  systemClock,
  type AlertOutbox,
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
  /** The durable alert outbox behind {@link Services.alerts} (history and delivery state). */
  alertOutbox: AlertOutbox;
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
    kvguardVersion,
  };
}

/** How this process treats alerts: a deployment parks what no sink can take; a CLI without sinks leaves it pending. */
export interface ServiceOptions {
  alertsWithoutSinks?: AlertDeliveryOptions['withoutSinks'];
}

/**
 * Wires the adapters for a configuration.
 * @param config - the validated configuration
 * @param logger - defaults to JSON lines on stdout
 * @param options - see {@link ServiceOptions}
 */
export function createServices(
  config: KvGuardConfig,
  logger: Logger = createConsoleLogger('kvguard'),
  options: ServiceOptions = {},
): Services {
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
  const alertOutbox = new BlobAlertOutbox(blobs.getContainerClient(config.stateContainer));
  return {
    config,
    vaults: createKeyVaultPortFactory({
      credential,
      maxConcurrency: config.maxConcurrency,
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
      outbox: alertOutbox,
      logger,
      telemetry,
      clock,
      delivery: { withoutSinks: options.alertsWithoutSinks ?? 'park', parkAfterHours: config.alertParkHours },
    }),
    alertOutbox,
    telemetry,
    logger,
    clock,
  };
}
