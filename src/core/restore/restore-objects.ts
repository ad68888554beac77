import { mapWithConcurrency } from '../concurrency';
import type { ObjectType } from '../domain';
import { describeError, isKvGuardError, KvGuardError } from '../errors';
import type { BackupStore, Clock, Logger, VaultPort } from '../ports';
import { readVerifiedBackup } from './integrity';
import type { PlannedObject } from './plan-restore';

/** What happened to one object. `planned` only in a dry run (objects a job has not reached yet have no result). */
export type RestoreOutcome = 'restored' | 'recovered' | 'skipped' | 'conflict' | 'failed' | 'planned';

/** One object's plan and what came of it. */
export interface ObjectResult extends PlannedObject {
  outcome: RestoreOutcome;
  /** Why it was skipped, refused or failed (never secret material). */
  reason?: string;
  /** kvguard's error kind when it failed. */
  code?: string;
  /** Key Vault's own error code when the service refused. */
  serviceCode?: string;
  /** Versions the target holds afterwards (restored or recovered). */
  versions?: number;
  /** Restore calls made (more than one when Key Vault answered 409 right after a purge). */
  restoreAttempts?: number;
}

/** Tunables of the execution. */
export interface ExecuteOptions {
  dryRun: boolean;
  /** Objects restored at once. */
  concurrency: number;
  /** How long to keep retrying a restore that Key Vault refuses with 409 right after a purge. */
  purgeSettleMs: number;
  /**
   * After this instant no further object is started (beyond the first `concurrency`); unstarted ones come back
   * `undefined` and a job continues them.
   */
  stopStartingAt?: Date;
  /** Called after each object finishes (progress). */
  onResult?: (result: ObjectResult) => void;
  /** Restoring into another vault than the backup came from (Key Vault allows it only within one subscription and geography). */
  crossVault?: boolean;
  /** How an object's backup is checked and carried into the target; the opaque Key Vault blob unless given. */
  carrier?: BackupCarrier;
}

/**
 * How a planned object's backup gets into the target vault: `prepare` reads and checks it (in a dry run too, so the
 * plan shows a damaged backup), `restore` recreates the object from what `prepare` answered.
 */
export interface BackupCarrier {
  prepare(planned: PlannedObject): Promise<unknown>;
  /** Recreates the object; answers the number of restore calls made. */
  restore(planned: PlannedObject, prepared: unknown, afterPurge: boolean): Promise<number>;
}

/** What the execution needs. */
export interface ExecuteDependencies {
  store: BackupStore;
  clock: Clock;
  logger: Logger;
}

/** First pause before retrying a restore after a purge; doubles up to {@link MAX_SETTLE_DELAY_MS}. */
const FIRST_SETTLE_DELAY_MS = 1_000;
const MAX_SETTLE_DELAY_MS = 15_000;

/**
 * Carries out a pre-flight plan against the target vault. Every blob is checked against its catalog SHA-256 before
 * it is sent (in a dry run too, so the plan shows a tampered blob); live objects are never touched; one object
 * failing never stops the others. Answers one result per planned object, in order (`undefined` for objects not
 * started before `stopStartingAt`).
 * @param deps - store, clock, logger
 * @param target - the vault restored into
 * @param objects - the plan's objects
 * @param options - dry run, concurrency, purge settle time, stop time, progress callback
 */
export async function executePlan(
  deps: ExecuteDependencies,
  target: VaultPort,
  objects: readonly PlannedObject[],
  options: ExecuteOptions,
): Promise<(ObjectResult | undefined)[]> {
  return mapWithConcurrency(objects, options.concurrency, async (planned, index) => {
    // The first wave always starts, so a job that spent its time planning still moves forward.
    const late = options.stopStartingAt !== undefined && deps.clock.now().getTime() >= options.stopStartingAt.getTime();
    if (late && index >= options.concurrency) return undefined;
    const result = withCrossVaultHint(await executeOne(deps, target, planned, options), options);
    deps.logger.info('restore object', {
      vault: target.name,
      type: result.type,
      name: result.name,
      action: result.action,
      outcome: result.outcome,
      ...(result.code ? { code: result.code } : {}),
    });
    options.onResult?.(result);
    return result;
  });
}

async function executeOne(
  deps: ExecuteDependencies,
  target: VaultPort,
  planned: PlannedObject,
  options: ExecuteOptions,
): Promise<ObjectResult> {
  switch (planned.action) {
    case 'skip':
      return { ...planned, outcome: 'skipped' };
    case 'conflict':
      return { ...planned, outcome: 'conflict' };
    case 'recover':
      if (options.dryRun) return { ...planned, outcome: 'planned' };
      return attempt(planned, async () => {
        await target.recover(planned.type, planned.name);
        return { outcome: 'recovered', versions: (await target.listVersions(planned.type, planned.name)).length };
      });
    case 'restore':
    case 'purge-and-restore':
      return attempt(planned, async () => {
        const carrier = options.carrier ?? opaqueCarrier(deps, target, options.purgeSettleMs);
        const prepared = await carrier.prepare(planned);
        if (options.dryRun) return { outcome: 'planned' };
        const purged = planned.action === 'purge-and-restore';
        if (purged) await target.purge(planned.type, planned.name);
        const attempts = await carrier.restore(planned, prepared, purged);
        const versions = (await target.listVersions(planned.type, planned.name)).length;
        return { outcome: 'restored', versions, restoreAttempts: attempts };
      });
  }
}

/** The opaque carrier: the Key Vault backup blob, checked against its catalog SHA-256, restored as it is. */
function opaqueCarrier(deps: ExecuteDependencies, target: VaultPort, purgeSettleMs: number): BackupCarrier {
  return {
    prepare: (planned) => readVerifiedBackup(deps.store, planned.backup),
    restore: (planned, bytes, afterPurge) =>
      restoreBlob(deps.clock, target, planned.type, planned.name, bytes as Uint8Array, afterPurge ? purgeSettleMs : 0),
  };
}

/** Key Vault's refusal of a foreign backup is terse; say what it usually means. */
function withCrossVaultHint(result: ObjectResult, options: ExecuteOptions): ObjectResult {
  if (!options.crossVault || result.outcome !== 'failed' || !['BadRequest', 'Forbidden'].includes(result.code ?? ''))
    return result;
  return {
    ...result,
    reason: `${result.reason} (Key Vault restores a backup only into a vault of the same subscription and geography as its source)`,
  };
}

async function attempt(
  planned: PlannedObject,
  work: () => Promise<Partial<ObjectResult> & { outcome: RestoreOutcome }>,
): Promise<ObjectResult> {
  try {
    return { ...planned, ...(await work()) };
  } catch (error) {
    const { code, reason } = describeError(error);
    const serviceCode = isKvGuardError(error) ? error.serviceCode : undefined;
    return { ...planned, outcome: 'failed', code, reason, ...(serviceCode ? { serviceCode } : {}) };
  }
}

/**
 * Sends a backup blob to Key Vault. Right after a purge Key Vault keeps answering 409 for a while (the name is
 * still being released), so with `settleMs > 0` a `Conflict`/`InProgress` answer is retried with growing pauses
 * until that time has passed. Answers the number of restore calls made.
 * @param clock - for pauses and the settle deadline
 * @param target - the vault restored into
 * @param type - the object type
 * @param name - the object name the blob holds (to check Key Vault restored that one)
 * @param bytes - the verified blob
 * @param settleMs - how long to keep retrying 409s (0: never retry)
 */
export async function restoreBlob(
  clock: Clock,
  target: VaultPort,
  type: ObjectType,
  name: string,
  bytes: Uint8Array,
  settleMs: number,
): Promise<number> {
  const deadline = clock.now().getTime() + settleMs;
  let delay = FIRST_SETTLE_DELAY_MS;
  for (let attempts = 1; ; attempts++) {
    try {
      const restored = await target.restore(type, bytes);
      if (restored.name.toLowerCase() !== name.toLowerCase()) {
        throw new KvGuardError(
          'IntegrityError',
          `the backup of ${type} ${name} restored ${JSON.stringify(restored.name)} instead`,
        );
      }
      return attempts;
    } catch (error) {
      const settling = isKvGuardError(error, 'Conflict', 'InProgress') && clock.now().getTime() + delay <= deadline;
      if (!settling) throw error;
      await clock.sleep(delay);
      delay = Math.min(delay * 2, MAX_SETTLE_DELAY_MS);
    }
  }
}
