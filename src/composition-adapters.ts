/**
 * The composition root's heavy half: every adapter (and so every Azure SDK) wired for a configuration. The function
 * app loads it on first use through `services()` in `./composition`, never when its entry module is imported (the
 * SDKs take most of a cold start); the CLI and the tests import it directly.
 */
import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/core-auth';
import type { BlobServiceClient } from '@azure/storage-blob';
import { createAlertSinks } from './adapters/alert-sinks';
import { createArmVaultDirectory } from './adapters/arm-vault-directory';
import { BlobAlertOutbox } from './adapters/blob-alert-outbox';
import { BlobBackupStore, BlobStateStore } from './adapters/blob-backup-store';
import { BlobPruneMarks } from './adapters/blob-prune-marks';
import { createCredential } from './adapters/credential';
import { createEntraTokenVerifier } from './adapters/entra-id-tokens';
import { createKeyVaultPortFactory, createSharedBudget } from './adapters/key-vault';
import { createBlobServiceClient, createQueueServiceClient, type StorageSettings } from './adapters/storage-clients';
import { createStorageProbe } from './adapters/storage-probe';
import { StorageJobQueue } from './adapters/storage-queue';
import { createConsoleLogger, createTelemetry } from './adapters/telemetry';
import { createArmVaultTagReader } from './adapters/vault-tags';
import { findVault, type KvGuardConfig } from './config';
import { createAlerts, type AlertDeliveryOptions } from './core/alerts';
import type { InventoryStore } from './core/browse/inventory';
import type { DoctorDependencies } from './core/doctor';
import type { BackupJob, RestoreJob } from './core/jobs';
import type { VaultTagReader } from './core/policy/pause';
import type { PruneMarks } from './core/retention/marks';
import {
  systemClock,
  type AlertOutbox,
  type Alerts,
  type BackupStore,
  type Clock,
  type JobQueue,
  type Logger,
  type PrincipalVerifier,
  type StateStore,
  type Telemetry,
  type VaultDirectory,
  type VaultPortFactory,
  type PortableVaults,
} from './core/ports';
import type { PortableStore } from './core/portable/portable-store';

/** Everything a use case may need, wired once per process from the validated configuration. */
export interface Services {
  config: KvGuardConfig;
  vaults: VaultPortFactory;
  /** Azure Resource Manager, for discovery by tag; absent when no discovery subscription is configured. */
  directory?: VaultDirectory;
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
  /** Each backup's inventory (versions, attributes, tags), for browse and diff; absent: not recorded. */
  inventory?: InventoryStore;
  /** Marks backups the retention plan lets go, for the storage's lifecycle rule; absent: pruning off (plan only). */
  pruneMarks?: PruneMarks;
  /** Reads vault tags (the `kvguard:paused=true` switch); absent: only the setting pauses. */
  vaultTags?: VaultTagReader;
  /** Checks Entra ID bearer tokens; absent when no tenant and audience are configured (then no principal passes). */
  principals?: PrincipalVerifier;
  /** Portable exports and restores: the store, vault values and the KEK (exports only when one is configured). */
  portable?: PortableServices;
}

/** What portable exports and restores use. */
export interface PortableServices {
  store: PortableStore;
  vaults: PortableVaults;
  /** KVGUARD_PORTABLE_KEK; absent: no portable exports (restores name their KEK in each envelope). */
  kekId?: string;
}

/** kvguard's share of a vault's published limit (operations per 10 s), in call starts per second. */
export function vaultCeilingPerSecond(config: KvGuardConfig, url: string): number {
  const limit = findVault(config, url)?.rateLimit ?? config.vaultRateLimit;
  return (limit * config.budgetShare) / 100 / 10;
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
  const credential = createCredential(config.credential, { managedIdentityClientId: config.clientId });
  const telemetry = createTelemetry({ connectionString: config.appInsights, logger });
  const storage = storageSettings(config, credential);
  const blobs = createBlobServiceClient(storage);
  const queues = createQueueServiceClient(storage);
  // In Azure the state lives in the runtime account: the backup account only ever receives create-only writes.
  const stateBlobs = config.stateBlobServiceUri
    ? createBlobServiceClient({ blobServiceUri: config.stateBlobServiceUri, credential })
    : blobs;
  const state = new BlobStateStore({
    container: stateBlobs.getContainerClient(config.stateContainer),
    createContainer: config.createContainers,
  });
  const store = new BlobBackupStore({
    container: blobs.getContainerClient(config.container),
    immutability: config.immutability,
    createContainer: config.createContainers,
    retentionDays: config.retentionDays,
    clock,
    logger,
  });
  const alertOutbox = new BlobAlertOutbox(
    stateBlobs.getContainerClient(config.stateContainer),
    config.createContainers,
  );
  const caCertPem = config.keyVaultCaCert ? readFileSync(config.keyVaultCaCert, 'utf8') : undefined;
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
  const vaults = createKeyVaultPortFactory({
    credential,
    maxConcurrency: config.maxConcurrency,
    ceilingPerSecond: (url) => vaultCeilingPerSecond(config, url),
    shared,
    caCertPem,
    logger,
    telemetry,
    clock,
  });
  return {
    config,
    directory:
      config.discoverySubscriptions.length > 0
        ? createArmVaultDirectory({ credential, endpoint: config.armEndpoint, caCertPem })
        : undefined,
    vaults,
    portable: { store, vaults, ...(config.portableKek ? { kekId: config.portableKek } : {}) },
    store,
    inventory: store,
    pruneMarks: pruneMarks(config, blobs),
    // The emulator has no ARM: locally only the setting pauses a vault.
    vaultTags: config.credential === 'emulator' ? undefined : createArmVaultTagReader(credential),
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
    ...(config.authTenantId && config.authAudience
      ? {
          principals: createEntraTokenVerifier({
            tenantId: config.authTenantId,
            audiences: config.authAudience,
            jwksUrl: config.authJwksUrl,
          }),
        }
      : {}),
  };
}

/**
 * The prune marks when pruning is on: through the prune identity where storage is reached by identity (kvguard's
 * own may not tag), through the connection string locally.
 */
function pruneMarks(config: KvGuardConfig, blobs: BlobServiceClient): PruneMarks | undefined {
  if (!config.pruning) return undefined;
  const service = config.storageConnectionString
    ? blobs
    : createBlobServiceClient({
        blobServiceUri: config.blobServiceUri,
        credential: createCredential(config.credential, { managedIdentityClientId: config.pruneClientId }),
      });
  return new BlobPruneMarks(service.getContainerClient(config.container));
}

/** Where kvguard's storage is, from the configuration. */
function storageSettings(config: KvGuardConfig, credential: TokenCredential): StorageSettings {
  return {
    connectionString: config.storageConnectionString,
    blobServiceUri: config.blobServiceUri,
    queueServiceUri: config.queueServiceUri,
    credential,
  };
}

/**
 * The doctor's dependencies: the services' vaults, state and directory, plus storage probes and the alert sinks
 * themselves (the test alert goes to each sink directly, past de-duplication).
 */
export function doctorDependencies(services: Services): DoctorDependencies {
  const { config, telemetry, logger } = services;
  const credential = createCredential(config.credential, { managedIdentityClientId: config.clientId });
  const storage = storageSettings(config, credential);
  return {
    vaults: services.vaults,
    ...(services.portable ? { portable: services.portable.vaults } : {}),
    pruneMarks: services.pruneMarks,
    directory: services.directory,
    state: services.state,
    logger,
    clock: services.clock,
    sinks: createAlertSinks(config, { credential, telemetry, logger }),
    probe: createStorageProbe({
      backupContainer: createBlobServiceClient(storage).getContainerClient(config.container),
      queues: createQueueServiceClient(storage),
      local: config.storageConnectionString !== undefined,
    }),
  };
}
