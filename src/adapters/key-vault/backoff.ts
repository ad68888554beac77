/**
 * How long to wait before the next attempt. Exponential backoff with full jitter (spreads retries of many callers
 * evenly), a floor for throttling (an immediate retry after a 429 is certain to be refused again), and the
 * service's own `Retry-After` when it sent one.
 */
import type { KvGuardError } from '../../core/errors';

/** Backoff limits. */
export interface BackoffSettings {
  /** First ceiling of the jittered delay. */
  baseDelayMs: number;
  /** Largest ceiling of the jittered delay. */
  maxDelayMs: number;
}

/** Default limits: 200 ms doubling up to 10 s. */
export const DEFAULT_BACKOFF: BackoffSettings = { baseDelayMs: 200, maxDelayMs: 10_000 };

/**
 * Full-jitter exponential delay: uniform in [0, min(max, base · 2^attempt)].
 * @param attempt - 0 for the first retry
 * @param settings - base and maximum delay
 * @param random - uniform in [0, 1)
 */
export function fullJitterDelayMs(
  attempt: number,
  settings: BackoffSettings,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * The wait before retrying after `error`.
 * - With `Retry-After`: exactly what the service asked (plus up to 10 % jitter so callers do not return in lockstep).
 * - A 429 without it: full jitter, but never less than the base delay.
 * - Anything else: full jitter.
 * @param error - the classified failure
 * @param attempt - how many retries of this call came before (0 for the first)
 * @param settings - base and maximum delay
 * @param random - uniform in [0, 1)
 */
export function retryDelayMs(
  error: KvGuardError,
  attempt: number,
  settings: BackoffSettings,
  random: () => number = Math.random,
): number {
  if (error.retryAfterSeconds !== undefined) {
    const asked = Math.ceil(error.retryAfterSeconds * 1000);
    return asked + Math.floor(random() * asked * 0.1);
  }
  const jittered = fullJitterDelayMs(attempt, settings, random);
  return error.code === 'Throttled' ? Math.max(settings.baseDelayMs, jittered) : jittered;
}
