import { z } from 'zod';
import { schemaOf } from './schema-of';
import { ageOf } from './age';
import { ALERT_TYPES } from './alerts';
import { mapWithConcurrency } from './concurrency';
import type { DeletedObject, ObjectType, VaultTarget } from './domain';
import { describeError, isKvGuardError, KvGuardError } from './errors';
import type {
  Alert,
  AlertReceipt,
  Alerts,
  BackupStore,
  Clock,
  Logger,
  StateStore,
  VaultPort,
  VaultPortFactory,
} from './ports';

/** What {@link watchDeletions} needs. */
export interface WatchDependencies {
  /** The vaults to watch (already filtered to one with `--vault`). */
  vaults: VaultTarget[];
  open: VaultPortFactory;
  store: BackupStore;
  state: StateStore;
  alerts: Alerts;
  logger: Logger;
  clock: Clock;
}

/** Options of one watcher run. */
export interface WatchOptions {
  /** Per-vault deadline of the listings; default 120 s. */
  vaultDeadlineMs?: number;
  /** Vaults checked at once; default 4. */
  concurrency?: number;
  /**
   * On a vault's first run there is nothing to compare with: objects deleted within this many hours are still
   * reported (someone may have deleted them just before kvguard first looked), older ones become the baseline.
   */
  firstRunLookbackHours?: number;
}

/** One finding of the watcher, as reported and alerted. */
export interface WatchFinding {
  type: ObjectType;
  name: string;
  deletedOn?: string;
  scheduledPurgeDate?: string;
  newestBackupAt?: string;
  newestBackupAgeHours?: number;
  /** The newest backup's age as text (`3.6 min`, `5 h` …). */
  newestBackupAge?: string;
}

/** The watcher's result for one vault. */
export interface VaultWatchResult {
  vault: string;
  url: string;
  status: 'ok' | 'failed';
  /** True on the vault's first run: its state became the baseline. */
  baseline: boolean;
  live: number;
  softDeleted: number;
  deleted: WatchFinding[];
  purged: WatchFinding[];
  vanished: WatchFinding[];
  recovered: WatchFinding[];
  /**
   * The alerts this pass raised for the vault, each recorded in the outbox before the watcher's state moved on, with
   * where its delivery stands (sinks that have it, sinks still waiting: retried by the timer).
   */
  alerts: (Pick<Alert, 'type' | 'severity' | 'subject' | 'summary'> &
    Omit<AlertReceipt, 'recorded'> & { new: boolean })[];
  error?: { code: string; reason: string };
}

/** The watcher's result over every vault. */
export interface WatchSummary {
  checkedAt: string;
  vaults: VaultWatchResult[];
}

/** What the watcher remembers per vault (`watch/<vault>`): names seen live and soft-deleted, per type. */
interface WatchState {
  version: 1;
  checkedAt: string;
  types: Partial<Record<ObjectType, { live: string[]; deleted: DeletedEntry[] }>>;
}

interface DeletedEntry {
  name: string;
  deletedOn?: string;
  scheduledPurgeDate?: string;
}

const deletedEntrySchema = schemaOf<DeletedEntry>()(
  z.object({
    name: z.string().min(1),
    deletedOn: z.string().optional(),
    scheduledPurgeDate: z.string().optional(),
  }),
);
const seenSchema = z.object({ live: z.array(z.string()), deleted: z.array(deletedEntrySchema) });

/** The watcher's state of one vault as read back from the state store. */
const watchStateSchema = schemaOf<WatchState>()(
  z.object({
    version: z.literal(1),
    checkedAt: z.iso.datetime({ offset: true }),
    types: z.object({ key: seenSchema.optional(), secret: seenSchema.optional(), certificate: seenSchema.optional() }),
  }),
);

/** What a vault holds now, per type. */
type Listing = Map<ObjectType, { live: Map<string, string>; deleted: Map<string, DeletedEntry> }>;

const DEFAULTS = { vaultDeadlineMs: 120_000, concurrency: 4, firstRunLookbackHours: 24 };
const HOUR_MS = 3_600_000;

/**
 * Detects deletions Key Vault sends no event for. Per vault, lists live and soft-deleted objects, compares them with
 * what it saw last time (kept in the state store under `watch/<vault>`), and raises an alert for each object newly
 * deleted, purged (gone from the deleted list without coming back), or vanished (live before, now neither live nor
 * deleted). A vault that fails is reported and does not stop the others.
 */
export async function watchDeletions(deps: WatchDependencies, options: WatchOptions = {}): Promise<WatchSummary> {
  const settings = { ...DEFAULTS, ...options };
  const checkedAt = deps.clock.now();
  const vaults = await mapWithConcurrency(deps.vaults, settings.concurrency, (vault) =>
    watchVault(vault, deps, settings, checkedAt),
  );
  return { checkedAt: checkedAt.toISOString(), vaults };
}

async function watchVault(
  vault: VaultTarget,
  deps: WatchDependencies,
  settings: typeof DEFAULTS,
  checkedAt: Date,
): Promise<VaultWatchResult> {
  const result: VaultWatchResult = {
    vault: vault.name,
    url: vault.url,
    status: 'ok',
    baseline: false,
    live: 0,
    softDeleted: 0,
    deleted: [],
    purged: [],
    vanished: [],
    recovered: [],
    alerts: [],
  };
  try {
    const deadline = new Date(checkedAt.getTime() + settings.vaultDeadlineMs);
    const port = deps.open.open(vault.url, { deadline });
    const key = `watch/${vault.name}`;
    const previous = await deps.state.read(key, watchStateSchema);
    const now = await listVault(port, vault.types, deadline, deps.clock);
    result.baseline = !previous;
    const lookbackStart = previous
      ? undefined
      : new Date(checkedAt.getTime() - settings.firstRunLookbackHours * HOUR_MS);
    const changes = compare(previous?.value, now, lookbackStart);
    for (const [, { live, deleted }] of now) {
      result.live += live.size;
      result.softDeleted += deleted.size;
    }
    result.recovered = changes.recovered.map(({ type, entry }) => ({ type, ...entry }));
    await alertChanges(vault, changes, result, deps, previous?.value.checkedAt ?? checkedAt.toISOString());
    await saveState(deps.state, key, toState(now, checkedAt), previous?.etag ?? null, deps.logger);
  } catch (error) {
    result.status = 'failed';
    result.error = describeError(error);
    deps.logger.error('deletion watch failed for a vault', { vault: vault.name, ...result.error });
  }
  return result;
}

/** Every live name (lower case → spelling) and soft-deleted object of each type. */
async function listVault(port: VaultPort, types: ObjectType[], deadline: Date, clock: Clock): Promise<Listing> {
  const listing: Listing = new Map();
  for (const type of types) {
    const live = new Map<string, string>();
    let continuationToken: string | undefined;
    do {
      if (clock.now() > deadline)
        throw new KvGuardError('DeadlineExceeded', `listing ${type}s did not finish before the deadline`);
      const page = await port.listObjects(type, { continuationToken });
      // Managed keys/secrets belong to a certificate and disappear with it; the certificate is what is watched.
      for (const item of page.items) if (!item.managed) live.set(item.name.toLowerCase(), item.name);
      continuationToken = page.continuationToken;
    } while (continuationToken);
    const deleted = new Map<string, DeletedEntry>();
    for (const item of await port.listDeleted(type)) deleted.set(item.name.toLowerCase(), deletedEntry(item));
    listing.set(type, { live, deleted });
  }
  return listing;
}

function deletedEntry(item: DeletedObject): DeletedEntry {
  return {
    name: item.name,
    deletedOn: item.deletedOn?.toISOString(),
    scheduledPurgeDate: item.scheduledPurgeDate?.toISOString(),
  };
}

interface Change {
  type: ObjectType;
  entry: DeletedEntry;
}

interface Changes {
  deleted: Change[];
  purged: Change[];
  vanished: Change[];
  recovered: Change[];
}

/** Compares the previous state with the current listing. */
function compare(previous: WatchState | undefined, now: Listing, lookbackStart: Date | undefined): Changes {
  const changes: Changes = { deleted: [], purged: [], vanished: [], recovered: [] };
  const deletedCertificates = now.get('certificate')?.deleted ?? new Map<string, DeletedEntry>();
  for (const [type, { live, deleted }] of now) {
    const before = previous?.types[type];
    const beforeDeleted = new Map((before?.deleted ?? []).map((e) => [e.name.toLowerCase(), e]));
    for (const [name, entry] of deleted) {
      const earlier = beforeDeleted.get(name);
      // The same name deleted again (recovered and re-deleted in between) has a new deletion date.
      if (earlier && earlier.deletedOn === entry.deletedOn) continue;
      // A certificate's key and secret are deleted with it; the certificate's own alert covers them.
      if (type !== 'certificate' && deletedCertificates.has(name)) continue;
      if (lookbackStart && !(entry.deletedOn && new Date(entry.deletedOn) >= lookbackStart)) continue;
      changes.deleted.push({ type, entry });
    }
    for (const [name, entry] of beforeDeleted) {
      if (deleted.has(name)) continue;
      if (live.has(name)) changes.recovered.push({ type, entry: { ...entry, name: live.get(name)! } });
      else changes.purged.push({ type, entry });
    }
    for (const name of before?.live ?? []) {
      const lower = name.toLowerCase();
      if (!live.has(lower) && !deleted.has(lower)) changes.vanished.push({ type, entry: { name } });
    }
  }
  return changes;
}

async function alertChanges(
  vault: VaultTarget,
  changes: Changes,
  result: VaultWatchResult,
  deps: WatchDependencies,
  previousCheckAt: string,
): Promise<void> {
  const kinds = [
    ['deleted', changes.deleted],
    ['purged', changes.purged],
    ['vanished', changes.vanished],
  ] as const;
  for (const [kind, list] of kinds) {
    const findings = await mapWithConcurrency(list, 8, (change) => withNewestBackup(vault, change, deps));
    result[kind].push(...findings);
    for (const finding of findings) {
      const alert = alertFor(kind, vault, finding, deps.clock.now(), previousCheckAt);
      // Raising records the alert durably (or throws); only after every alert is recorded is the state saved.
      const { recorded, ...delivery } = await deps.alerts.raise(alert);
      result.alerts.push({
        type: alert.type,
        severity: alert.severity,
        subject: alert.subject,
        summary: alert.summary,
        new: recorded,
        ...delivery,
      });
    }
  }
}

async function withNewestBackup(vault: VaultTarget, change: Change, deps: WatchDependencies): Promise<WatchFinding> {
  const finding: WatchFinding = { type: change.type, ...change.entry };
  const backup = await deps.store.latestBackup(vault.name, change.type, change.entry.name).catch((error: unknown) => {
    deps.logger.warn('catalog unavailable while reporting a deletion', {
      vault: vault.name,
      name: change.entry.name,
      ...describeError(error),
    });
    return undefined;
  });
  if (backup) {
    finding.newestBackupAt = backup.takenAt.toISOString();
    finding.newestBackupAgeHours =
      Math.round(((deps.clock.now().getTime() - backup.takenAt.getTime()) / HOUR_MS) * 10) / 10;
    finding.newestBackupAge = ageOf(backup.takenAt, deps.clock.now());
  }
  return finding;
}

function alertFor(
  kind: 'deleted' | 'purged' | 'vanished',
  vault: VaultTarget,
  finding: WatchFinding,
  now: Date,
  previousCheckAt: string,
): Alert {
  const subject = `${vault.name}/${finding.type}/${finding.name}`;
  const what = `The ${finding.type} ${finding.name} in vault ${vault.name}`;
  const backup = finding.newestBackupAt
    ? `kvguard's newest backup of it is from ${finding.newestBackupAt} (${ageOf(finding.newestBackupAt, now)} old)`
    : 'kvguard holds no backup of it';
  const base = { subject, occurredAt: now.toISOString(), data: { vault: vault.name, vaultUrl: vault.url, ...finding } };
  const deletion = finding.deletedOn ?? 'unknown';
  switch (kind) {
    case 'deleted':
      return {
        ...base,
        type: ALERT_TYPES.objectDeleted,
        severity: 'warning',
        summary: `${what} was deleted on ${deletion}; it can be recovered until ${finding.scheduledPurgeDate ?? 'its purge date'}. ${backup}.`,
        dedupeKey: `deleted/${subject.toLowerCase()}/${deletion}`,
      };
    case 'purged': {
      const retentionEnded = finding.scheduledPurgeDate !== undefined && new Date(finding.scheduledPurgeDate) <= now;
      return {
        ...base,
        type: ALERT_TYPES.objectPurged,
        severity: retentionEnded ? 'warning' : 'critical',
        summary: `${what} was purged${retentionEnded ? ' at the end of its retention' : ''} and cannot be recovered from the vault; ${backup}.`,
        dedupeKey: `purged/${subject.toLowerCase()}/${deletion}`,
      };
    }
    case 'vanished':
      return {
        ...base,
        type: ALERT_TYPES.objectVanished,
        severity: 'critical',
        summary: `${what} disappeared without showing up as deleted (purged in between, or soft-deleted objects are not visible); ${backup}.`,
        dedupeKey: `vanished/${subject.toLowerCase()}/${previousCheckAt}`,
      };
  }
}

function toState(now: Listing, checkedAt: Date): WatchState {
  const types: WatchState['types'] = {};
  for (const [type, { live, deleted }] of now)
    types[type] = { live: [...live.values()], deleted: [...deleted.values()] };
  return { version: 1, checkedAt: checkedAt.toISOString(), types };
}

async function saveState(
  state: StateStore,
  key: string,
  value: WatchState,
  etag: string | null,
  logger: Logger,
): Promise<void> {
  try {
    await state.write(key, value, { etag });
  } catch (error) {
    // Another watcher run saved its view meanwhile; the alerts' dedupe keys keep the next comparison quiet.
    if (!isKvGuardError(error, 'Conflict', 'AlreadyExists')) throw error;
    logger.warn("watch state changed during the run; keeping the other run's state", { key });
  }
}
