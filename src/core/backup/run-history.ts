import { objectKey, type RunManifest, type VaultTarget } from '../domain';
import type { BackupStore } from '../ports';
import { summariseRun, type RunSummary } from './runs';

/** A vault's newest complete, successful run, and the objects it listed (by {@link objectKey}). */
export interface SucceededRun {
  summary: RunSummary;
  objects: Set<string>;
}

/**
 * The newest complete, successful run of a vault that finished at or before `asOf` (default: the newest of all):
 * the run whose listing says which objects the vault held. Reads manifests newest first and stops at that run.
 * @param store - the catalog
 * @param target - the vault (its types decide when a run is complete)
 * @param asOf - only runs finished by then
 */
export async function newestSucceededRun(
  store: BackupStore,
  target: VaultTarget,
  asOf?: Date,
): Promise<SucceededRun | undefined> {
  const asOfIso = asOf?.toISOString();
  const runs = new Map<string, RunManifest[]>();
  for await (const manifest of store.listManifests(target.name)) {
    if (manifest.scope === 'objects' || (asOfIso !== undefined && manifest.finishedAt > asOfIso)) continue;
    const run = [...(runs.get(manifest.runId) ?? []), manifest];
    runs.set(manifest.runId, run);
    const summary = summariseRun(run, target);
    if (summary.succeeded) return { summary, objects: new Set(run.flatMap((m) => m.entries.map(objectKey))) };
  }
  return undefined;
}
