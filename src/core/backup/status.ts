import { ageOf } from '../age';
import { ALERT_TYPES } from '../alerts';
import { mapWithConcurrency } from '../concurrency';
import type { RunManifest, VaultTarget } from '../domain';
import type { Alerts, BackupStore, Clock } from '../ports';
import { noVaultTags, pauseState, type PauseState, type VaultTagReader } from '../policy/pause';
import { summariseRun, type RunSummary } from './runs';

/** How well one vault is protected right now. */
export interface VaultStatus {
  vault: string;
  url: string;
  /** When the newest complete, successful run finished. */
  lastSuccessAt?: string;
  ageHours?: number;
  rpoHours: number;
  rpoBreached: boolean;
  /** Present when scheduled backups of the vault are paused: by what, and why. */
  paused?: Required<Omit<PauseState, 'paused'>>;
  /** Backed up within its RPO and not paused: a paused vault is never healthy. */
  healthy: boolean;
  /** Objects covered by the last successful run (stored + unchanged) and those that failed in it. */
  counts?: { stored: number; unchanged: number; failed: number };
  lastRun?: Pick<
    RunSummary,
    'runId' | 'trigger' | 'startedAt' | 'finishedAt' | 'complete' | 'succeeded' | 'stats' | 'errors'
  >;
}

/** How many recent runs status looks through for a success before calling the vault unprotected. */
const RUNS_EXAMINED = 50;

/** Vaults whose status is read at once. */
const STATUS_CONCURRENCY = 4;

/**
 * Reads a vault's recent run manifests and judges its recovery point against its RPO (the vault policy's, else
 * `rpoHours`); a paused vault is reported as paused and never healthy.
 */
export async function vaultStatus(
  target: VaultTarget,
  store: BackupStore,
  clock: Clock,
  defaultRpoHours: number,
  pause: PauseState = { paused: false },
): Promise<VaultStatus> {
  const rpoHours = target.policy?.rpoHours ?? defaultRpoHours;
  const runs = new Map<string, (RunManifest & { blobName: string })[]>();
  for await (const manifest of store.listManifests(target.name)) {
    if (manifest.scope === 'objects') continue;
    if (!runs.has(manifest.runId) && runs.size === RUNS_EXAMINED) break;
    const run = runs.get(manifest.runId) ?? [];
    run.push(manifest);
    runs.set(manifest.runId, run);
    // Manifests come newest first, and a summary is written only for a complete run: every run listed after it
    // started no later, so none of them can be the newest run or a newer success.
    if (manifest.scope === 'summary') break;
  }
  const summaries = [...runs.values()]
    .map((manifests) => summariseRun(manifests, target))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const lastRun = summaries[0];
  const lastSuccess = summaries.find((s) => s.succeeded);
  const ageHours = lastSuccess
    ? (clock.now().getTime() - new Date(lastSuccess.finishedAt).getTime()) / 3_600_000
    : undefined;
  const rpoBreached = ageHours === undefined || ageHours > rpoHours;
  return {
    vault: target.name,
    url: target.url,
    lastSuccessAt: lastSuccess?.finishedAt,
    ageHours: ageHours === undefined ? undefined : Math.round(ageHours * 100) / 100,
    rpoHours,
    rpoBreached,
    ...(pause.paused ? { paused: { by: pause.by!, reason: pause.reason! } } : {}),
    healthy: !rpoBreached && !pause.paused,
    counts: lastSuccess
      ? { stored: lastSuccess.stats.stored, unchanged: lastSuccess.stats.unchanged, failed: lastSuccess.stats.failed }
      : undefined,
    lastRun: lastRun && {
      runId: lastRun.runId,
      trigger: lastRun.trigger,
      startedAt: lastRun.startedAt,
      finishedAt: lastRun.finishedAt,
      complete: lastRun.complete,
      succeeded: lastRun.succeeded,
      stats: lastRun.stats,
      errors: lastRun.errors,
    },
  };
}

/**
 * The status of each vault (read a few at a time) and whether any is past its RPO.
 * @param targets - the vaults to judge
 * @param store - the backup store holding their run manifests
 * @param clock - for the age of the newest success
 * @param rpoHours - the default recovery point objective (a vault policy's own wins)
 * @param tags - reads vault tags, for the `kvguard:paused=true` pause switch
 */
export async function vaultStatuses(
  targets: readonly VaultTarget[],
  store: BackupStore,
  clock: Clock,
  rpoHours: number,
  tags: VaultTagReader = noVaultTags,
): Promise<{ vaults: VaultStatus[]; rpoBreached: boolean }> {
  const vaults = await mapWithConcurrency(targets, STATUS_CONCURRENCY, async (target) =>
    vaultStatus(target, store, clock, rpoHours, await pauseState(target, tags)),
  );
  return { vaults, rpoBreached: vaults.some((v) => v.rpoBreached) };
}

/**
 * Raises `kvguard.RpoBreached` for each vault in breach, once per breach (keyed by its last success). A vault with
 * no run at all is left alone: its first run is being queued right now.
 */
export async function alertRpoBreaches(statuses: readonly VaultStatus[], alerts: Alerts, clock: Clock): Promise<void> {
  for (const status of statuses.filter((s) => s.rpoBreached && s.lastRun)) {
    await alerts.raise({
      type: ALERT_TYPES.rpoBreached,
      severity: 'critical',
      subject: status.vault,
      summary:
        (status.lastSuccessAt
          ? `Vault ${status.vault}: newest successful backup is ${ageOf(status.lastSuccessAt, clock.now())} old (RPO ${status.rpoHours} h)`
          : `Vault ${status.vault} has no successful backup run (RPO ${status.rpoHours} h)`) +
        (status.paused ? `; scheduled backups are ${status.paused.reason}` : ''),
      dedupeKey: `rpo/${status.vault}/${status.lastSuccessAt ?? 'never'}`,
      occurredAt: clock.now().toISOString(),
      data: { ...status },
    });
  }
}
