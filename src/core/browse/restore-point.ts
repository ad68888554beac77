import { mapWithConcurrency } from '../concurrency';
import { latestBackupsAsOf } from '../catalog';
import { OBJECT_TYPES, objectKey, type ObjectType, type VaultTarget } from '../domain';
import type { BackupStore, VaultPort } from '../ports';
import { newestSucceededRun } from '../backup/run-history';
import { isSelectedByPolicy } from '../backup/selection';
import { chosenBackup, type ChosenBackup } from '../restore/plan-restore';
import { describeObject, type InventoryStore, type ObjectInventory } from './inventory';

/** One object of a restore point (or of the live vault): what it holds, never a value. */
export interface PointObject extends Partial<Omit<ObjectInventory, 'type' | 'name'>> {
  type: ObjectType;
  name: string;
  /** The backup a restore as of that instant would use; absent for the live vault. */
  backup?: ChosenBackup;
}

/** Every object of a vault as of an instant (a restore point), or as it is now (`live`). */
export interface RestorePoint {
  vault: string;
  /** The instant asked for (for the live vault: when it was listed). */
  asOf: string;
  /**
   * `run`: the objects the newest complete run finished by then listed; `catalog`: no such run, so every object
   * with a backup by then; `live`: listed from the vault now.
   */
  basis: 'run' | 'catalog' | 'live';
  runId?: string;
  objects: PointObject[];
}

/** Inventories read, or live objects described, at once. */
const READ_CONCURRENCY = 8;

/**
 * A vault's restore point as of an instant: the objects the newest complete run finished by then listed (plus
 * objects first backed up after that run began, e.g. by an event snapshot), each with the backup a restore would use
 * and the inventory recorded with it.
 * @param store - the catalog
 * @param inventory - the inventories recorded beside the backups
 * @param target - the vault
 * @param asOf - the instant (default: now, i.e. the newest backups)
 */
export async function restorePointAsOf(
  store: BackupStore,
  inventory: InventoryStore | undefined,
  target: VaultTarget,
  asOf: Date,
): Promise<RestorePoint> {
  const [{ latest }, run] = await Promise.all([
    latestBackupsAsOf(store, { vault: target.name, asOf }),
    newestSucceededRun(store, target, asOf),
  ]);
  const chosen = run
    ? latest.filter((r) => run.objects.has(objectKey(r)) || r.takenAt.toISOString() >= run.summary.startedAt)
    : latest;
  const objects = await mapWithConcurrency(chosen, READ_CONCURRENCY, async (record): Promise<PointObject> => {
    const described = await inventory?.readInventory(record.blobName);
    const { type: _type, name: _name, ...details } = described ?? { type: record.type, name: record.name };
    return { type: record.type, name: record.name, ...details, backup: chosenBackup(record) };
  });
  return {
    vault: target.name,
    asOf: asOf.toISOString(),
    basis: run ? 'run' : 'catalog',
    ...(run ? { runId: run.summary.runId } : {}),
    objects: sortObjects(objects),
  };
}

/**
 * The vault as it is now: every object its policy selects, described from the version listings (no values).
 * @param vault - the opened vault
 * @param target - the vault and its policy
 * @param now - when the vault is listed, recorded as the point's instant
 */
export async function liveRestorePoint(vault: VaultPort, target: VaultTarget, now: Date): Promise<RestorePoint> {
  const listed: { type: ObjectType; name: string }[] = [];
  for (const type of OBJECT_TYPES.filter((t) => target.types.includes(t))) {
    let continuationToken: string | undefined;
    do {
      const page = await vault.listObjects(type, { continuationToken });
      listed.push(...page.items.filter((o) => isSelectedByPolicy(o, target)).map(({ name }) => ({ type, name })));
      continuationToken = page.continuationToken;
    } while (continuationToken);
  }
  const objects = await mapWithConcurrency(listed, READ_CONCURRENCY, async ({ type, name }) =>
    describeObject(type, name, await vault.listVersions(type, name)),
  );
  return { vault: target.name, asOf: now.toISOString(), basis: 'live', objects: sortObjects(objects) };
}

function sortObjects<T extends { type: ObjectType; name: string }>(objects: T[]): T[] {
  return objects.sort(
    (a, b) =>
      OBJECT_TYPES.indexOf(a.type) - OBJECT_TYPES.indexOf(b.type) ||
      a.name.toLowerCase().localeCompare(b.name.toLowerCase()),
  );
}
