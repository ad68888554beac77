import { z } from 'zod';
import type { VaultTarget } from '../domain';
import { KvGuardError } from '../errors';
import type { BackupStore, Clock, VaultPortFactory } from '../ports';
import { diffRestorePoints, type RestorePointDiff } from './diff';
import type { InventoryStore } from './inventory';
import { liveRestorePoint, restorePointAsOf, type RestorePoint } from './restore-point';

/** What browsing and comparing restore points needs. */
export interface BrowseDependencies {
  store: BackupStore;
  inventory?: InventoryStore;
  vaults: VaultPortFactory;
  clock: Clock;
}

const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone' });

/** The fields of a diff request, as `GET /api/backups/{vault}/diff` and `kvguard diff` take them. */
export const diffQueryShape = {
  asOf: isoTime,
  to: isoTime.optional(),
  live: z
    .enum(['true', 'false'], { error: "must be 'true' or 'false'" })
    .transform((v) => v === 'true')
    .optional(),
};

/** A diff request: from the restore point as of `asOf` to the one as of `to`, or to the live vault. */
export interface DiffQuery {
  asOf: string;
  to?: string;
  live?: boolean;
}

/**
 * Lists a restore point: the objects of a vault as of an instant, with versions, tags and hashes (never values).
 * @param deps - catalog, inventories, clock
 * @param target - the vault
 * @param asOf - the instant (default now: the newest backups)
 */
export async function showRestorePoint(
  deps: BrowseDependencies,
  target: VaultTarget,
  asOf?: Date,
): Promise<RestorePoint> {
  return restorePointAsOf(deps.store, deps.inventory, target, asOf ?? deps.clock.now());
}

/**
 * Compares a vault's restore point as of `asOf` with a later one (`to`, default now) or with the live vault.
 * Refuses `to` together with `live`, and a `to` before `asOf`, naming the field.
 * @param deps - catalog, inventories, vaults (for `live`), clock
 * @param target - the vault
 * @param query - validated by {@link diffQueryShape}
 */
export async function diffVault(
  deps: BrowseDependencies,
  target: VaultTarget,
  query: DiffQuery,
): Promise<RestorePointDiff> {
  if (query.live && query.to !== undefined) {
    throw new KvGuardError('ValidationError', 'give either to or live=true, not both', { field: 'to' });
  }
  const asOf = new Date(query.asOf);
  const to = query.to === undefined ? deps.clock.now() : new Date(query.to);
  if (to.getTime() < asOf.getTime()) {
    throw new KvGuardError(
      'ValidationError',
      `to ${JSON.stringify(query.to)} is before asOf ${JSON.stringify(query.asOf)}`,
      {
        field: 'to',
      },
    );
  }
  const from = await restorePointAsOf(deps.store, deps.inventory, target, asOf);
  const later = query.live
    ? await liveRestorePoint(deps.vaults.open(target.url), target, deps.clock.now())
    : await restorePointAsOf(deps.store, deps.inventory, target, to);
  return diffRestorePoints(from, later);
}
