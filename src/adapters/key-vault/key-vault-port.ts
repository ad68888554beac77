/**
 * {@link VaultPort} on the Key Vault SDK clients: every call goes through the run's {@link RetryingCaller} (adaptive
 * limit, backoff, deadline); long operations (delete, recover, purge) are started once and then waited for by
 * polling the object's state, because Key Vault keeps answering 404s and in-progress 409s while they finish.
 */
import type {
  CertificatePolicyState,
  DeletedObject,
  NameState,
  ObjectSummary,
  ObjectType,
  ObjectVersion,
  Page,
} from '../../core/domain';
import { KvGuardError, isKvGuardError, type ErrorCode } from '../../core/errors';
import type { Clock, VaultPort } from '../../core/ports';
import type { ObjectFamily, RawPage } from './families';
import type { RetryingCaller } from './retrying-caller';

/** Waiting for a long operation: first poll interval, growth factor, largest interval. */
export interface PollSettings {
  initialMs: number;
  factor: number;
  maxMs: number;
  /**
   * How long after this port purged an object of a type a plain 409 from a restore of that type is taken for
   * "the purge is still settling" and retried (the service says nothing more specific).
   */
  postPurgeConflictWindowMs: number;
}

/** Defaults: 250 ms growing by half up to 2 s; 60 s post-purge window. */
export const DEFAULT_POLL: PollSettings = {
  initialMs: 250,
  factor: 1.5,
  maxMs: 2_000,
  postPurgeConflictWindowMs: 60_000,
};

/** What one {@link KeyVaultPort} is made of. */
export interface KeyVaultPortParts {
  url: string;
  name: string;
  families: Record<ObjectType, ObjectFamily>;
  caller: RetryingCaller;
  clock: Clock;
  poll: PollSettings;
}

/** One vault for one run, over the real SDK clients. */
export class KeyVaultPort implements VaultPort {
  readonly url: string;
  readonly name: string;
  private readonly recentPurges = new Map<ObjectType, number>();

  /** @param parts - URL, name, SDK families, the run's caller, clock and poll settings */
  constructor(private readonly parts: KeyVaultPortParts) {
    this.url = parts.url;
    this.name = parts.name;
  }

  /** One page of live objects (Key Vault's page size is at most 25). */
  async listObjects(
    type: ObjectType,
    options: { continuationToken?: string; pageSize?: number } = {},
  ): Promise<Page<ObjectSummary>> {
    // The page feeds the calls after it, so it does not wait behind them (see AdaptiveLimiter).
    const page = await this.caller.callFirst(`list ${type}s`, (abortSignal) =>
      this.family(type).listPage(options.continuationToken, options.pageSize, { abortSignal }),
    );
    return page.continuationToken
      ? { items: page.items, continuationToken: page.continuationToken }
      : { items: page.items };
  }

  /** Every version of an object, page by page, each page retried on its own. */
  async listVersions(type: ObjectType, name: string): Promise<ObjectVersion[]> {
    return this.allPages(`list versions of ${type} ${name}`, (token, abortSignal) =>
      this.family(type).listVersionsPage(name, token, { abortSignal }),
    );
  }

  /** A certificate's policy, as the service answers it. */
  async certificatePolicy(name: string): Promise<CertificatePolicyState> {
    const family = this.family('certificate');
    if (!family.policy) throw new KvGuardError('Internal', 'the certificate family reads no policies');
    return this.caller.call(`get policy of certificate ${name}`, (abortSignal) =>
      family.policy!(name, { abortSignal }),
    );
  }

  /** The opaque backup bytes exactly as Key Vault returned them. */
  async backup(type: ObjectType, name: string): Promise<Uint8Array> {
    return this.caller.call(`backup ${type} ${name}`, (abortSignal) => this.family(type).backup(name, { abortSignal }));
  }

  /** Restores backup bytes; `Conflict` when the name is live or soft-deleted. */
  async restore(type: ObjectType, backup: Uint8Array): Promise<{ name: string }> {
    const name = await this.caller.call(
      `restore ${type}`,
      (abortSignal) => this.family(type).restore(backup, { abortSignal }),
      async (error) => this.reinterpretRestoreConflict(type, error),
    );
    return { name };
  }

  /** Live (get answers), soft-deleted (get-deleted answers) or free. */
  async nameState(type: ObjectType, name: string): Promise<NameState> {
    const family = this.family(type);
    if (await this.answers(`get ${type} ${name}`, (abortSignal) => family.getLive(name, { abortSignal })))
      return 'live';
    if (await this.answers(`get deleted ${type} ${name}`, (abortSignal) => family.getDeleted(name, { abortSignal })))
      return 'deleted';
    return 'free';
  }

  /** Every soft-deleted object of a type. */
  async listDeleted(type: ObjectType): Promise<DeletedObject[]> {
    return this.allPages(`list deleted ${type}s`, (token, abortSignal) =>
      this.family(type).listDeletedPage(token, { abortSignal }),
    );
  }

  /** Recovers and waits until the object answers as live. */
  async recover(type: ObjectType, name: string): Promise<void> {
    await this.caller.call(
      `recover ${type} ${name}`,
      (abortSignal) => this.family(type).startRecover(name, { abortSignal }),
      async (error, previous) => this.doneByEarlierAttempt(error, previous),
    );
    await this.waitFor(type, name, 'recovery', (state) => state === 'live');
  }

  /** Purges and waits until the name is free. */
  async purge(type: ObjectType, name: string): Promise<void> {
    await this.caller.call(
      `purge ${type} ${name}`,
      (abortSignal) => this.family(type).purge(name, { abortSignal }),
      async (error, previous) => this.doneByEarlierAttempt(error, previous),
    );
    this.recentPurges.set(type, this.parts.clock.now().getTime());
    await this.waitFor(type, name, 'purge', (state) => state === 'free');
  }

  /** Soft-deletes and waits until the deleted object is visible (or the name free, on a vault without soft-delete). */
  async delete(type: ObjectType, name: string): Promise<void> {
    let softDeleted = true;
    await this.caller.call(
      `delete ${type} ${name}`,
      async (abortSignal) => {
        softDeleted = (await this.family(type).startDelete(name, { abortSignal })).softDeleted;
      },
      async (error, previous) => this.doneByEarlierAttempt(error, previous),
    );
    await this.waitFor(type, name, 'deletion', (state) => (softDeleted ? state === 'deleted' : state === 'free'));
  }

  /** 429s this run saw and the most calls it had in flight at once. */
  stats(): { throttled: number; maxConcurrency: number } {
    const { throttled, maxConcurrency } = this.caller.stats();
    return { throttled, maxConcurrency };
  }

  private get caller(): RetryingCaller {
    return this.parts.caller;
  }

  private family(type: ObjectType): ObjectFamily {
    return this.parts.families[type];
  }

  /** True when the call succeeds, false on 404; anything else is thrown. */
  private async answers(operation: string, call: (abortSignal: AbortSignal) => Promise<unknown>): Promise<boolean> {
    try {
      await this.caller.call(operation, call);
      return true;
    } catch (error) {
      if (isKvGuardError(error, 'NotFound')) return false;
      throw error;
    }
  }

  /** Follows continuation tokens to the end; each page is retried on its own and the deadline bounds the loop. */
  private async allPages<T>(
    operation: string,
    fetch: (token: string | undefined, abortSignal: AbortSignal) => Promise<RawPage<T>>,
  ): Promise<T[]> {
    const all: T[] = [];
    let token: string | undefined;
    do {
      const page = await this.caller.call(operation, (abortSignal) => fetch(token, abortSignal));
      all.push(...page.items);
      token = page.continuationToken;
    } while (token);
    return all;
  }

  /**
   * A retried start of a delete/recover/purge whose earlier attempt may have reached the service (its answer was
   * lost to a reset or a 5xx, or the service said the operation was already in progress) now answers 404: the
   * operation is under way, so wait for it instead of failing. After only 429s (never processed) a 404 is real.
   */
  private async doneByEarlierAttempt(
    error: KvGuardError,
    previous: readonly ErrorCode[],
  ): Promise<KvGuardError | { value: void }> {
    const mayHaveStarted = previous.includes('Transient') || previous.includes('InProgress');
    return mayHaveStarted && error.code === 'NotFound' ? { value: undefined } : error;
  }

  private async reinterpretRestoreConflict(type: ObjectType, error: KvGuardError): Promise<KvGuardError> {
    if (error.code !== 'Conflict' || error.serviceCode === 'ObjectIsDeletedButRecoverable') return error;
    const purgedAt = this.recentPurges.get(type);
    const settling =
      purgedAt !== undefined && this.parts.clock.now().getTime() - purgedAt < this.parts.poll.postPurgeConflictWindowMs;
    if (!settling) return error;
    return new KvGuardError(
      'InProgress',
      `${error.message} (a purge of a ${type} in this vault may still be settling)`,
      {
        serviceCode: error.serviceCode,
        statusCode: error.statusCode,
        cause: error,
      },
    );
  }

  /** Polls the name's state until `done`, with growing pauses, until the run's deadline. */
  private async waitFor(
    type: ObjectType,
    name: string,
    what: string,
    done: (state: NameState) => boolean,
  ): Promise<void> {
    const { clock, poll } = this.parts;
    let interval = poll.initialMs;
    for (;;) {
      if (done(await this.nameState(type, name))) return;
      if (clock.now().getTime() + interval > this.caller.deadline.getTime()) {
        throw new KvGuardError(
          'DeadlineExceeded',
          `${what} of ${type} ${name} in vault ${this.name} did not complete before the run's deadline`,
        );
      }
      await clock.sleep(interval);
      interval = Math.min(poll.maxMs, interval * poll.factor);
    }
  }
}
