import type { BackupRecord, ObjectType } from './domain';
import { KvGuardError } from './errors';
import type { BackupQuery, BackupStore } from './ports';

/** Entries per catalog page unless the caller asks otherwise. */
export const DEFAULT_CATALOG_PAGE_SIZE = 100;
/** The largest catalog page a caller may ask for. */
export const MAX_CATALOG_PAGE_SIZE = 1000;

/** A catalog query with paging. */
export interface CatalogQuery extends BackupQuery {
  /** Entries per page (1 to {@link MAX_CATALOG_PAGE_SIZE}). */
  limit?: number;
  /** The token of the previous page. */
  continuationToken?: string;
}

/** One page of the catalog, newest first. */
export interface CatalogPage {
  items: BackupRecord[];
  /** Present when more entries follow; pass it back to get them. */
  continuationToken?: string;
}

/** Where a page ended: the last entry's time and blob name. */
interface CatalogCursor {
  takenAtMs: number;
  blobName: string;
}

/**
 * One page of the catalog, newest first across objects (by time taken, then blob name). The store lists entries
 * grouped by object, so each page scans the query's listing and keeps only the `limit` newest entries after the
 * cursor: memory stays bounded by the page size, and a backup stored meanwhile never shifts later pages (it is
 * newer than any cursor).
 * @param store - the backup store
 * @param query - filters (vault, type, name, asOf), page size and continuation token
 */
export async function catalogPage(store: BackupStore, query: CatalogQuery): Promise<CatalogPage> {
  const limit = query.limit ?? DEFAULT_CATALOG_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_CATALOG_PAGE_SIZE) {
    throw new KvGuardError('ValidationError', `limit ${limit} must be an integer from 1 to ${MAX_CATALOG_PAGE_SIZE}`, {
      field: 'limit',
    });
  }
  const cursor = query.continuationToken === undefined ? undefined : decodeCursor(query.continuationToken);
  const { limit: _limit, continuationToken: _token, ...filter } = query;
  const newest: BackupRecord[] = [];
  let more = false;
  for await (const record of store.listBackups(filter)) {
    if (cursor && !isAfter(record, cursor)) continue;
    insertSorted(newest, record);
    if (newest.length > limit) {
      newest.pop();
      more = true;
    }
  }
  const last = newest[newest.length - 1];
  return more && last ? { items: newest, continuationToken: encodeCursor(last) } : { items: newest };
}

/** Newest first: later `takenAt` first, then blob name ascending so the order is total. */
function compareNewestFirst(a: BackupRecord, b: BackupRecord): number {
  const byTime = b.takenAt.getTime() - a.takenAt.getTime();
  if (byTime !== 0) return byTime;
  return a.blobName < b.blobName ? -1 : a.blobName > b.blobName ? 1 : 0;
}

function isAfter(record: BackupRecord, cursor: CatalogCursor): boolean {
  const time = record.takenAt.getTime();
  return time < cursor.takenAtMs || (time === cursor.takenAtMs && record.blobName > cursor.blobName);
}

function insertSorted(list: BackupRecord[], record: BackupRecord): void {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareNewestFirst(list[middle]!, record) <= 0) low = middle + 1;
    else high = middle;
  }
  list.splice(low, 0, record);
}

function encodeCursor(record: BackupRecord): string {
  return Buffer.from(JSON.stringify({ t: record.takenAt.getTime(), b: record.blobName })).toString('base64url');
}

function decodeCursor(token: string): CatalogCursor {
  try {
    const { t, b } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { t: unknown; b: unknown };
    if (typeof t === 'number' && Number.isFinite(t) && typeof b === 'string') return { takenAtMs: t, blobName: b };
  } catch {
    // reported below
  }
  throw new KvGuardError(
    'ValidationError',
    `continuationToken ${JSON.stringify(token.slice(0, 40))} is not one this API issued`,
    {
      field: 'continuationToken',
    },
  );
}

/** An object the catalog knows that had no backup at the instant asked for. */
export interface ObjectWithoutBackup {
  type: ObjectType;
  name: string;
  /** When its oldest backup was taken (after the instant asked for). */
  firstBackupAt: Date;
}

/** Per object of a vault: its newest backup as of an instant, or why it has none. */
export interface LatestBackups {
  /** The newest backup of each object taken at or before `asOf`, in catalog order. */
  latest: BackupRecord[];
  /** Objects whose every backup was taken after `asOf`: they did not exist then (or were not yet backed up). */
  absent: ObjectWithoutBackup[];
}

/**
 * The newest backup of every object of a vault as of an instant: one listing of the vault's catalog, no per-object
 * calls. Objects backed up only after `asOf` come back in `absent`.
 * @param store - the backup store
 * @param query - the vault, optionally one object type, and the instant (default: now, i.e. the newest backups)
 */
export async function latestBackupsAsOf(
  store: BackupStore,
  query: { vault: string; type?: ObjectType; asOf?: Date },
): Promise<LatestBackups> {
  const asOfMs = query.asOf?.getTime() ?? Number.POSITIVE_INFINITY;
  const latest = new Map<string, BackupRecord>();
  const oldestLater = new Map<string, BackupRecord>();
  for await (const record of store.listBackups({ vault: query.vault, type: query.type })) {
    const key = `${record.type}/${record.name.toLowerCase()}`;
    if (record.takenAt.getTime() <= asOfMs) {
      const current = latest.get(key);
      if (!current || record.takenAt.getTime() > current.takenAt.getTime()) latest.set(key, record);
    } else {
      const current = oldestLater.get(key);
      if (!current || record.takenAt.getTime() < current.takenAt.getTime()) oldestLater.set(key, record);
    }
  }
  const absent = [...oldestLater.entries()]
    .filter(([key]) => !latest.has(key))
    .map(([, record]) => ({ type: record.type, name: record.name, firstBackupAt: record.takenAt }));
  return { latest: [...latest.values()], absent };
}
