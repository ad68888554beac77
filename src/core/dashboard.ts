import { listRuns, runDetails, type RunHeader } from './backup/run-history';
import { vaultStatuses, type VaultStatus } from './backup/status';
import { mapWithConcurrency } from './concurrency';
import { VERSION_WARNING_THRESHOLD, type ObjectType, type VaultTarget } from './domain';
import { describeError } from './errors';
import { listRestores, recentAlerts, type AlertHistory, type RestoreHistoryItem } from './history';
import type { AlertOutbox, BackupStore, Clock, Logger } from './ports';
import type { VaultTagReader } from './policy/pause';

/** How close a vault is to its RPO: green well within, amber in the last quarter, red past it (or never backed up). */
export type Rag = 'green' | 'amber' | 'red';

/** One vault on the status page. */
export interface DashboardVault extends VaultStatus {
  rag: Rag;
}

/** An object whose version count is near Key Vault's 500-version backup limit. */
export interface NearLimitObject {
  vault: string;
  type: ObjectType;
  name: string;
  versionCount: number;
  runId: string;
}

/** Everything the status page shows, gathered from the stores. */
export interface DashboardData {
  generatedAt: string;
  vaults: DashboardVault[];
  runs: RunHeader[];
  alerts: AlertHistory;
  restores: RestoreHistoryItem[];
  lastDrill?: RestoreHistoryItem;
  nearLimit: NearLimitObject[];
  /** Parts that could not be read (the page still renders the rest). */
  problems: string[];
}

/** What {@link dashboardData} reads. */
export interface DashboardDependencies {
  vaults: readonly VaultTarget[];
  store: BackupStore;
  outbox: AlertOutbox;
  clock: Clock;
  logger: Logger;
  rpoHours: number;
  /** Reads the vaults' pause tags; without it only the configuration pauses a vault. */
  vaultTags?: VaultTagReader;
}

/** From this share of the RPO on, a vault is amber. */
const AMBER_SHARE = 0.75;
const RECENT_RUNS = 40;

/**
 * The RAG state of a vault: red when breached, amber once its newest success is three quarters of the RPO old.
 * @param status - the vault's status
 */
export function ragOf(status: VaultStatus): Rag {
  if (status.rpoBreached || status.ageHours === undefined) return 'red';
  return status.ageHours >= status.rpoHours * AMBER_SHARE ? 'amber' : 'green';
}

/**
 * Gathers the status page: per vault status, recent runs, alerts, restores, the last drill and the objects near
 * the version limit (from each vault's newest finished run). Each part is read on its own, so one that fails is
 * named in `problems` and the page shows the rest.
 */
export async function dashboardData(deps: DashboardDependencies): Promise<DashboardData> {
  const now = deps.clock.now();
  const problems: string[] = [];
  const part = async <T>(what: string, fallback: T, read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (error) {
      const { code, reason } = describeError(error);
      deps.logger.warn(`status page: ${what} unavailable`, { code, reason });
      problems.push(`${what}: ${code}`);
      return fallback;
    }
  };
  const [statuses, runs, alerts, restores, drills] = await Promise.all([
    part(
      'vault status',
      [] as VaultStatus[],
      async () => (await vaultStatuses(deps.vaults, deps.store, deps.clock, deps.rpoHours, deps.vaultTags)).vaults,
    ),
    part('runs', [] as RunHeader[], async () => (await listRuns(deps.store, { limit: RECENT_RUNS })).items),
    part('alerts', { pending: 0, parked: 0, items: [] }, () => recentAlerts(deps.outbox, now, 20)),
    part('restores', [] as RestoreHistoryItem[], () => listRestores(deps.store, { limit: 10 })),
    part('drills', [] as RestoreHistoryItem[], () => listRestores(deps.store, { limit: 1, action: 'drill' })),
  ]);
  const nearLimit = await part('version counts', [] as NearLimitObject[], () => objectsNearLimit(deps.store, runs));
  return {
    generatedAt: now.toISOString(),
    vaults: statuses.map((s) => ({ ...s, rag: ragOf(s) })),
    runs,
    alerts,
    restores,
    ...(drills[0] ? { lastDrill: drills[0] } : {}),
    nearLimit,
    problems,
  };
}

/** Objects with 400+ versions in each vault's newest run that covered the vault (succeeded or partial). */
async function objectsNearLimit(store: BackupStore, runs: readonly RunHeader[]): Promise<NearLimitObject[]> {
  const newestPerVault = new Map<string, RunHeader>();
  for (const run of runs)
    if ((run.outcome === 'succeeded' || run.outcome === 'partial') && !newestPerVault.has(run.vault))
      newestPerVault.set(run.vault, run);
  const perVault = await mapWithConcurrency([...newestPerVault.values()], 4, async (run) => {
    const details = await runDetails(store, run.runId, { vault: run.vault });
    return details.chunks.flatMap((chunk) =>
      chunk.objects
        .filter((o) => o.versionCount >= VERSION_WARNING_THRESHOLD)
        .map((o) => ({ vault: run.vault, type: o.type, name: o.name, versionCount: o.versionCount, runId: run.runId })),
    );
  });
  return perVault.flat().sort((a, b) => b.versionCount - a.versionCount);
}
