import type { RestoreJob } from '../jobs';
import type { JobQueue, PortableVaults, StateStore, VaultPortFactory } from '../ports';
import type { PortableStore } from '../portable/portable-store';
import type { AuditDependencies } from './restore-audit';
import type { RestoreRequest } from './restore-request';

/** What the restore use cases need (a subset of the composition root's services). */
export interface RestoreDependencies extends AuditDependencies {
  vaults: VaultPortFactory;
  state: StateStore;
  restoreQueue: JobQueue<RestoreJob>;
  /** Portable restores: the portable exports and the vaults' values and KEKs; absent: refused. */
  portable?: { store: PortableStore; vaults: PortableVaults };
}

/** Who asks for a restore and how it should run. */
export interface RestoreCall {
  /** Who asked (audited). */
  principal: string;
  /** Request id; a new UUID unless given. */
  requestId?: string;
  /** Whether a large whole-vault restore may be handed to a queue job (HTTP: yes; the CLI runs it in-process). */
  allowJob: boolean;
  /** Progress of an in-process restore: objects done out of the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Tunables of a restore. */
export interface RestoreSettings {
  /** How long one request (or one job invocation) may take before vault retries stop. */
  deadlineSeconds: number;
  /** Objects restored at once; restores are heavy "other" operations, so keep this small. */
  concurrency: number;
  /** How long to keep retrying a restore that Key Vault refuses with 409 right after a purge. */
  purgeSettleSeconds: number;
  /** A whole-vault restore of more objects than this runs as a queue job (HTTP answers 202). */
  asyncThreshold: number;
}

/** Whole-vault restores with more objects than this run as a queue job rather than inside the HTTP request. */
export const ASYNC_RESTORE_THRESHOLD = 5;

/** Defaults: fit an HTTP request (Azure's front end closes requests after 230 s) and a Consumption-plan queue job. */
export const DEFAULT_RESTORE_SETTINGS: RestoreSettings = {
  deadlineSeconds: 180,
  concurrency: 4,
  purgeSettleSeconds: 120,
  asyncThreshold: ASYNC_RESTORE_THRESHOLD,
};

/** Where a restore runs; each has its own time budget. */
export type RestoreEntryPoint = 'http' | 'job' | 'cli';

/** Azure's front end drops an HTTP request after 230 s; an HTTP restore must answer well before. */
const HTTP_DEADLINE_SECONDS = 180;
/** An operator at a terminal can wait for a large vault. */
const CLI_MIN_DEADLINE_SECONDS = 3_600;

/**
 * The settings for one entry point, from the configured job deadline (`KVGUARD_RUN_DEADLINE_SECONDS`).
 * @param entry - HTTP request, queue job, or CLI
 * @param runDeadlineSeconds - the configured per-job deadline
 */
export function restoreSettingsFor(entry: RestoreEntryPoint, runDeadlineSeconds: number): RestoreSettings {
  const deadlineSeconds =
    entry === 'http'
      ? Math.min(runDeadlineSeconds, HTTP_DEADLINE_SECONDS)
      : entry === 'cli'
        ? Math.max(runDeadlineSeconds, CLI_MIN_DEADLINE_SECONDS)
        : runDeadlineSeconds;
  return {
    ...DEFAULT_RESTORE_SETTINGS,
    deadlineSeconds,
    purgeSettleSeconds: Math.min(DEFAULT_RESTORE_SETTINGS.purgeSettleSeconds, Math.floor(deadlineSeconds * 0.75)),
  };
}

/**
 * How a request's plan is carried out, the same for an HTTP, CLI or queued restore.
 * @param request - the validated request (its source and target vaults)
 * @param settings - the entry point's settings
 */
export function executionSettings(
  request: Pick<RestoreRequest, 'source' | 'target'>,
  settings: RestoreSettings,
): { concurrency: number; purgeSettleMs: number; crossVault: boolean } {
  return {
    concurrency: settings.concurrency,
    purgeSettleMs: settings.purgeSettleSeconds * 1000,
    crossVault: request.source.url !== request.target.url,
  };
}
