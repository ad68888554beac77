/**
 * Runs one Key Vault call under the vault's adaptive limit, retrying what is retryable until the run's deadline:
 * 429s and in-progress 409s as long as the deadline allows, transient faults up to `maxRetries` times.
 */
import { KvGuardError, type ErrorCode } from '../../core/errors';
import type { Clock } from '../../core/ports';
import type { AdaptiveLimiter } from './adaptive-limiter';
import { retryDelayMs, type BackoffSettings } from './backoff';
import { classifyVaultError } from './classify';

/** Retry limits of the vault adapter. */
export interface RetrySettings extends BackoffSettings {
  /** Retries of transient faults (5xx, resets, timeouts) per call; 429s and in-progress answers are bounded by the deadline. */
  maxRetries: number;
  /** Per-attempt timeout of one HTTP request. */
  requestTimeoutMs: number;
}

/** Defaults: 6 transient retries, 200 ms doubling to 10 s, 60 s per request. */
export const DEFAULT_RETRY: RetrySettings = {
  maxRetries: 6,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  requestTimeoutMs: 60_000,
};

/**
 * A second look at a failure before it is retried or thrown (e.g. a 404 on a retried delete means it is done).
 * `previous` holds the codes of this call's earlier failed attempts, oldest first.
 */
export type Reinterpret<T> = (
  error: KvGuardError,
  previous: readonly ErrorCode[],
) => Promise<KvGuardError | { value: T }>;

/** Everything one {@link RetryingCaller} needs. */
export interface RetryingCallerOptions {
  vault: string;
  limiter: AdaptiveLimiter;
  clock: Clock;
  deadline: Date;
  retry: RetrySettings;
  random?: () => number;
}

/** Per-port counters: what this run saw. */
export interface CallerStats {
  throttled: number;
  maxConcurrency: number;
  retries: number;
}

/** Retries Key Vault calls for one port (one vault, one run). */
export class RetryingCaller {
  private inFlight = 0;
  private readonly counters: CallerStats = { throttled: 0, maxConcurrency: 0, retries: 0 };

  /** @param options - vault, shared limiter, clock, deadline, retry limits, jitter source */
  constructor(private readonly options: RetryingCallerOptions) {}

  /** What this port has seen so far. */
  stats(): CallerStats {
    return { ...this.counters };
  }

  /** The instant retries stop. */
  get deadline(): Date {
    return this.options.deadline;
  }

  /**
   * Runs `attempt` until it succeeds, fails for good, or the deadline passes.
   * @param operation - what is done, for messages (`backup key db-key`)
   * @param attempt - one try; gets an abort signal for the per-request timeout
   * @param reinterpret - optional second look at a failure before it is retried or thrown
   */
  async call<T>(
    operation: string,
    attempt: (abortSignal: AbortSignal) => Promise<T>,
    reinterpret?: Reinterpret<T>,
  ): Promise<T> {
    return this.run(operation, attempt, reinterpret, false);
  }

  /**
   * Like {@link call}, each attempt ahead of the calls waiting for the vault's pace: for a listing page, which the
   * calls after it depend on (see AdaptiveLimiter).
   */
  async callFirst<T>(operation: string, attempt: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    return this.run(operation, attempt, undefined, true);
  }

  private async run<T>(
    operation: string,
    attempt: (abortSignal: AbortSignal) => Promise<T>,
    reinterpret: Reinterpret<T> | undefined,
    first: boolean,
  ): Promise<T> {
    const { clock, retry, vault } = this.options;
    let transientRetries = 0;
    const previous: ErrorCode[] = [];
    for (let attemptNo = 0; ; attemptNo++) {
      this.assertBeforeDeadline(operation);
      let error: KvGuardError;
      try {
        return await this.attemptOnce(attempt, first);
      } catch (thrown) {
        error = classifyVaultError(thrown, { operation, vault }, clock.now());
      }
      if (reinterpret) {
        const second = await reinterpret(error, previous);
        if (!(second instanceof KvGuardError)) return second.value;
        error = second;
      }
      previous.push(error.code);
      if (error.code === 'Throttled') this.counters.throttled += 1;
      if (!this.isRetryable(error, transientRetries)) throw error;
      if (error.code === 'Transient') transientRetries += 1;
      const delay = retryDelayMs(error, attemptNo, retry, this.options.random);
      if (clock.now().getTime() + delay > this.options.deadline.getTime())
        throw this.deadlineExceeded(operation, error);
      this.counters.retries += 1;
      // Only this call waits: the shared limiter decides from the share of 429s whether the vault's pace must change
      // (a lone or random 429 costs exactly its own retry; see AdaptiveLimiter).
      await clock.sleep(delay);
    }
  }

  /** Throws `DeadlineExceeded` once the deadline has passed. */
  assertBeforeDeadline(operation: string): void {
    if (this.options.clock.now().getTime() >= this.options.deadline.getTime()) throw this.deadlineExceeded(operation);
  }

  private async attemptOnce<T>(attempt: (abortSignal: AbortSignal) => Promise<T>, first: boolean): Promise<T> {
    const permit = await this.options.limiter.acquire({ first });
    this.inFlight += 1;
    this.counters.maxConcurrency = Math.max(this.counters.maxConcurrency, this.inFlight);
    try {
      const result = await attempt(AbortSignal.timeout(this.options.retry.requestTimeoutMs));
      permit.release('success');
      return result;
    } catch (error) {
      permit.release((error as { statusCode?: number }).statusCode === 429 ? 'throttled' : 'failed');
      throw error;
    } finally {
      this.inFlight -= 1;
    }
  }

  private isRetryable(error: KvGuardError, transientRetries: number): boolean {
    if (error.code === 'Throttled' || error.code === 'InProgress') return true;
    return error.code === 'Transient' && transientRetries < this.options.retry.maxRetries;
  }

  private deadlineExceeded(operation: string, last?: KvGuardError): KvGuardError {
    const reason = last ? `; last answer: ${last.message}` : '';
    return new KvGuardError(
      'DeadlineExceeded',
      `${operation} in vault ${this.options.vault} did not finish before the run's deadline ${this.options.deadline.toISOString()}${reason}`,
      {
        serviceCode: last?.serviceCode,
        statusCode: last?.statusCode,
        cause: last,
      },
    );
  }
}
