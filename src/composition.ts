import { version as kvguardVersion } from '../package.json';
import { loadConfig, type KvGuardConfig } from './config';
import type { BackupSettings } from './core/backup/backup-vault';
import type { BackupJob, RestoreJob } from './core/jobs';
import type {
  Alerts,
  BackupStore,
  Clock,
  JobQueue,
  Logger,
  StateStore,
  Telemetry,
  VaultPortFactory,
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
    kvguardVersion,
  };
}

/** Wires the adapters for a configuration. */
export function createServices(config: KvGuardConfig): Services {
  void config;
  throw new Error('composition is wired when the adapters land');
}
