/**
 * The composition root's light half, which the function files import: the process-wide services (built on first
 * use by `./composition-adapters`) and the settings each use case takes from the configuration.
 */
import { version as kvguardVersion } from '../package.json';
import type { Services } from './composition-adapters';
import { loadConfig, type KvGuardConfig } from './config';
import type { BackupSettings } from './core/backup/backup-vault';
import type { DiscoverySettings } from './core/discovery';
import type { DoctorDependencies, DoctorSettings } from './core/doctor';

/** Everything a use case may need (declared beside the wiring that builds it). */
export type { Services };

let current: Promise<Services> | undefined;

/**
 * The adapters' half of the composition root, loaded on first use: the Azure SDKs behind it take most of a cold
 * start, and the Functions host imports the entry module (which registers every function) before any invocation.
 * A dynamic `import()` rather than `require()`, so the dev host under vitest and tsx resolves the TypeScript source.
 */
function compositionAdapters(): Promise<typeof import('./composition-adapters')> {
  return import('./composition-adapters');
}

/**
 * The process-wide services, built on first use from `process.env` (so a bad setting fails the first invocation
 * with the setting named, and the dev host can apply local settings before that). A failed build is not kept:
 * the next invocation tries again.
 */
export function services(): Promise<Services> {
  current ??= compositionAdapters()
    .then(({ createServices }) => createServices(loadConfig(process.env)))
    .catch((error: unknown) => {
      current = undefined;
      throw error;
    });
  return current;
}

/** Replaces the process-wide services (tests, the CLI); `undefined` makes the next call rebuild them. */
export function useServices(replacement: Services | undefined): void {
  current = replacement === undefined ? undefined : Promise.resolve(replacement);
}

/**
 * The doctor's dependencies for these services (storage probes and the alert sinks themselves), from the adapters'
 * half of the composition root.
 */
export async function doctorDependencies(services: Services): Promise<DoctorDependencies> {
  return (await compositionAdapters()).doctorDependencies(services);
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

/** What `kvguard doctor` and `GET /api/doctor` check, from the configuration. */
export function doctorSettings(config: KvGuardConfig, sendTestAlert: boolean): DoctorSettings {
  return {
    vaults: config.vaults,
    scratchVault: config.scratchVault,
    container: config.container,
    createsContainers: config.createContainers,
    queues: [config.backupQueue, config.restoreQueue],
    discovery: discoverySettings(config),
    appInsightsConfigured: config.appInsights !== undefined,
    pruning: config.pruning,
    sendTestAlert,
    ...(config.portableKek ? { portableKek: config.portableKek } : {}),
  };
}

/** Discovery settings from the configuration. */
export function discoverySettings(config: KvGuardConfig): DiscoverySettings {
  return {
    subscriptions: config.discoverySubscriptions,
    tagName: config.discoveryTag,
    types: config.objectTypes,
    critical: config.critical,
  };
}
