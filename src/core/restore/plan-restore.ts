import { latestBackupsAsOf } from '../catalog';
import { mapWithConcurrency } from '../concurrency';
import { OBJECT_TYPES, type BackupRecord, type NameState, type ObjectType } from '../domain';
import { isKvGuardError, KvGuardError } from '../errors';
import type { BackupStore, VaultPort } from '../ports';
import type { ConflictPolicy, RestoreRequest } from './restore-request';

/** What the plan will do with one object. */
export type PlannedAction = 'restore' | 'purge-and-restore' | 'recover' | 'skip' | 'conflict';

/** The catalog entry a planned object is restored from (no bytes). */
export interface ChosenBackup {
  blobName: string;
  takenAt: string;
  sha256: string;
  size: number;
  versionCount: number;
}

/** One object of a restore plan: which blob, the target name's state, and what will happen. */
export interface PlannedObject {
  type: ObjectType;
  name: string;
  backup: ChosenBackup;
  /** The target name's state at pre-flight. */
  targetState: NameState;
  action: PlannedAction;
  /** Why the action is skip or conflict. */
  reason?: string;
}

/** An object left alone because it had no backup at `asOf`. */
export interface AbsentObject {
  type: ObjectType;
  name: string;
  reason: string;
}

/** The objects chosen for a request, before pre-flight. */
export interface BackupSelection {
  records: BackupRecord[];
  absent: AbsentObject[];
}

/** A pre-flight plan: nothing has been changed yet. */
export interface RestorePlan {
  objects: PlannedObject[];
  absent: AbsentObject[];
}

/** Target-name checks at once during pre-flight. */
const PREFLIGHT_CONCURRENCY = 8;

/**
 * Chooses the backups a request restores: one exact blob, one object's newest backup as of `asOf` (every type
 * unless `objectType` is given), or every object of the vault as of `asOf`. Throws `NotFound` when no backup
 * matches, and `ValidationError` (field `backup`) when the named blob belongs to another vault or object.
 * @param store - the backup store
 * @param request - the validated request
 */
export async function selectBackups(store: BackupStore, request: RestoreRequest): Promise<BackupSelection> {
  const asOf = request.asOf === undefined ? undefined : new Date(request.asOf);
  const when = request.asOf === undefined ? '' : ` at or before ${request.asOf}`;
  if (request.backup !== undefined) return { records: [await exactBackup(store, request, request.backup)], absent: [] };
  if (request.name !== undefined) {
    const name = request.name;
    const types = request.objectType ? [request.objectType] : OBJECT_TYPES;
    const found = await Promise.all(types.map((type) => store.latestBackup(request.source.name, type, name, asOf)));
    const records = found.filter((r): r is BackupRecord => r !== undefined);
    if (records.length === 0) {
      const kind = request.objectType ?? 'object';
      throw new KvGuardError(
        'NotFound',
        `no backup of ${kind} ${JSON.stringify(name)} from vault ${request.source.name}${when}`,
        { field: 'name' },
      );
    }
    return { records, absent: [] };
  }
  const { latest, absent } = await latestBackupsAsOf(store, {
    vault: request.source.name,
    type: request.objectType,
    asOf,
  });
  if (latest.length === 0) {
    const what = request.objectType ? `${request.objectType}s` : 'objects';
    throw new KvGuardError('NotFound', `no backup of any ${what} from vault ${request.source.name}${when}`, {
      field: 'vault',
    });
  }
  return {
    records: latest,
    absent: absent.map((a) => ({
      type: a.type,
      name: a.name,
      reason: `left alone: its first backup was taken at ${a.firstBackupAt.toISOString()}, after ${request.asOf}`,
    })),
  };
}

async function exactBackup(store: BackupStore, request: RestoreRequest, blobName: string): Promise<BackupRecord> {
  let record: BackupRecord;
  try {
    ({ record } = await store.readBackup(blobName));
  } catch (error) {
    if (isKvGuardError(error, 'NotFound'))
      throw new KvGuardError('NotFound', `backup blob ${JSON.stringify(blobName)} does not exist`, { field: 'backup' });
    throw error;
  }
  const mismatch =
    record.vault.toLowerCase() !== request.source.name.toLowerCase()
      ? `belongs to vault ${record.vault}, not ${request.source.name}`
      : request.objectType !== undefined && record.type !== request.objectType
        ? `is a ${record.type} backup, not a ${request.objectType} one`
        : request.name !== undefined && record.name.toLowerCase() !== request.name.toLowerCase()
          ? `is a backup of ${JSON.stringify(record.name)}, not of ${JSON.stringify(request.name)}`
          : undefined;
  if (mismatch)
    throw new KvGuardError('ValidationError', `backup ${JSON.stringify(blobName)} ${mismatch}`, { field: 'backup' });
  return record;
}

/**
 * The action for one object given its target name's state and the conflict policy. A live name is never touched:
 * it is a conflict, or skipped when the operator asked to skip.
 * @param type - the object type
 * @param name - the object name
 * @param state - the target name's state
 * @param policy - the request's `onConflict`
 */
export function decideAction(
  type: ObjectType,
  name: string,
  state: NameState,
  policy: ConflictPolicy,
): { action: PlannedAction; reason?: string } {
  if (state === 'free') return { action: 'restore' };
  if (state === 'live') {
    if (policy === 'skip') return { action: 'skip', reason: `a live ${type} named ${name} exists; skipped as asked` };
    return {
      action: 'conflict',
      reason: `a live ${type} named ${name} exists; kvguard never overwrites or deletes a live object`,
    };
  }
  switch (policy) {
    case 'recover':
      return { action: 'recover' };
    case 'purge':
      return { action: 'purge-and-restore' };
    case 'skip':
      return { action: 'skip', reason: `a soft-deleted ${type} named ${name} holds the name; skipped as asked` };
    case 'fail':
      return {
        action: 'conflict',
        reason: `a soft-deleted ${type} named ${name} holds the name; use onConflict 'recover' to recover it or 'purge' to purge it and restore`,
      };
  }
}

/**
 * Whether `onConflict: 'fail'` refuses the whole plan, changing nothing: some target name is taken.
 * @param policy - the request's `onConflict`
 * @param objects - the pre-flight plan
 */
export function refusesWholePlan(policy: ConflictPolicy, objects: readonly PlannedObject[]): boolean {
  return policy === 'fail' && objects.some((o) => o.action === 'conflict');
}

/**
 * Pre-flight: checks each chosen object's name in the target vault (free, live or soft-deleted) and decides its
 * action. Changes nothing; a failure to check any name fails the whole plan before anything is changed.
 * @param target - the vault restored into
 * @param records - the chosen backups
 * @param policy - the request's `onConflict`
 */
export async function preflight(
  target: VaultPort,
  records: readonly BackupRecord[],
  policy: ConflictPolicy,
): Promise<PlannedObject[]> {
  return mapWithConcurrency(records, PREFLIGHT_CONCURRENCY, async (record) => {
    const targetState = await target.nameState(record.type, record.name);
    return {
      type: record.type,
      name: record.name,
      backup: chosenBackup(record),
      targetState,
      ...decideAction(record.type, record.name, targetState, policy),
    };
  });
}

/** The catalog facts of a backup a plan carries (plain JSON). */
export function chosenBackup(record: BackupRecord): ChosenBackup {
  return {
    blobName: record.blobName,
    takenAt: record.takenAt.toISOString(),
    sha256: record.sha256,
    size: record.size,
    versionCount: record.versionCount,
  };
}

/**
 * Selects the backups and runs the pre-flight: the complete plan of a request, with nothing changed.
 * @param deps - the backup store and the target vault
 * @param request - the validated request
 */
export async function planRestore(
  deps: { store: BackupStore; target: VaultPort },
  request: RestoreRequest,
): Promise<RestorePlan> {
  const selection = await selectBackups(deps.store, request);
  const objects = await preflight(deps.target, selection.records, request.onConflict);
  return { objects, absent: selection.absent };
}
