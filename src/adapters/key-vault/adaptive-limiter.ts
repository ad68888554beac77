/**
 * An AIMD concurrency limit for one vault, shared by every call to it. Key Vault throttles per vault per 10 s and
 * often without `Retry-After`, so the only signal is the 429 itself: each success adds 1/limit (one slot per
 * "window" of successes), each 429 halves the limit — once per window: 429s of calls that started before the last
 * decrease say nothing new and do not halve it again.
 *
 * Concurrency alone does not bound the request rate when answers are fast, so a 429 also pauses the whole vault:
 * no new call starts before the pause asked for (the service's `Retry-After`, or the backoff) is over. Otherwise
 * every other caller would spend its own request to learn what the first 429 already said.
 *
 * Key Vault's limit is a rate, so the limiter also learns one: the first 429 sets a pace just under the rate that
 * was measured when it came (calls started in the last second), each success raises it by about one call per
 * second per second, and each later 429 (once per window) cuts it by a quarter. Calls then start evenly spaced at
 * that pace instead of in bursts that the service answers with a storm of 429s. A pace with no 429 for
 * {@link PACE_MEMORY_MS} is forgotten: the burst that caused it is over, and a lone 429 must not slow a vault for good.
 */
import { systemClock, type Clock } from '../../core/ports';

/** How long a learned pace outlives the last 429 (three of Key Vault's 10-second throttling windows). */
export const PACE_MEMORY_MS = 30_000;

/** How a call that held a slot ended. */
export type CallOutcome = 'success' | 'throttled' | 'failed';

/** A held slot; release it exactly once with the call's outcome. */
export interface Permit {
  release(outcome: CallOutcome): void;
}

/** Counters of a limiter. */
export interface LimiterStats {
  /** Current limit. */
  limit: number;
  /** Calls holding a slot now. */
  active: number;
  /** Highest number of calls that held slots at once. */
  peakActive: number;
  /** 429s reported. */
  throttled: number;
  /** Times a 429 lowered the limit. */
  decreases: number;
  /** Learned pace in calls per second; absent until the first 429. */
  ratePerSecond?: number;
}

/** Options of an {@link AdaptiveLimiter}. */
export interface AdaptiveLimiterOptions {
  /** Upper bound of the limit. */
  max: number;
  /** Starting limit (default: half of max, at least 1). */
  initial?: number;
  /** Called when a 429 lowered the limit, with the new limit (for a log line). */
  onDecrease?: (limit: number) => void;
  /** Clock for pauses (default the system clock). */
  clock?: Clock;
}

/** An additive-increase / multiplicative-decrease concurrency limiter. */
export class AdaptiveLimiter {
  private readonly max: number;
  private window: number;
  private active = 0;
  private peak = 0;
  private throttledCount = 0;
  private epoch = 0;
  private decreaseCount = 0;
  private resumeAt = 0;
  private ratePerSecond: number | undefined;
  private lastThrottledAt = 0;
  private nextStartAt = 0;
  private readonly recentStarts: number[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly onDecrease?: (limit: number) => void;
  private readonly clock: Clock;

  /** @param options - bounds, starting limit, decrease hook */
  constructor(options: AdaptiveLimiterOptions) {
    if (!Number.isInteger(options.max) || options.max < 1)
      throw new RangeError(`max must be a positive integer, got ${options.max}`);
    this.max = options.max;
    this.window = Math.min(this.max, Math.max(1, options.initial ?? Math.ceil(this.max / 2)));
    this.onDecrease = options.onDecrease;
    this.clock = options.clock ?? systemClock;
  }

  /** The number of calls allowed at once right now (at least 1, at most max). */
  get limit(): number {
    return Math.max(1, Math.min(this.max, Math.floor(this.window)));
  }

  /** Holds back every new call for `ms` (extends, never shortens, a pause under way). */
  pause(ms: number): void {
    this.resumeAt = Math.max(this.resumeAt, this.clock.now().getTime() + ms);
  }

  /** Waits until the vault is not paused and a slot is free. */
  async acquire(): Promise<Permit> {
    for (;;) {
      const now = this.clock.now().getTime();
      const waitFor = Math.max(this.resumeAt, this.nextStartAt) - now;
      if (waitFor > 0) await this.clock.sleep(waitFor);
      else if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
      else break;
    }
    this.noteStart(this.clock.now().getTime());
    this.active += 1;
    this.peak = Math.max(this.peak, this.active);
    const epoch = this.epoch;
    let released = false;
    return {
      release: (outcome) => {
        if (released) return;
        released = true;
        this.active -= 1;
        this.record(outcome, epoch);
        this.wake();
      },
    };
  }

  /** Counters so far. */
  stats(): LimiterStats {
    return {
      limit: this.limit,
      active: this.active,
      peakActive: this.peak,
      throttled: this.throttledCount,
      decreases: this.decreaseCount,
      ...(this.ratePerSecond === undefined ? {} : { ratePerSecond: Math.round(this.ratePerSecond * 10) / 10 }),
    };
  }

  /** Records a call start and reserves the next start slot at the learned pace. */
  private noteStart(now: number): void {
    if (this.ratePerSecond !== undefined && now - this.lastThrottledAt > PACE_MEMORY_MS) this.ratePerSecond = undefined;
    this.recentStarts.push(now);
    while (this.recentStarts.length > 0 && this.recentStarts[0]! <= now - 1000) this.recentStarts.shift();
    if (this.ratePerSecond !== undefined)
      this.nextStartAt = Math.max(now, this.nextStartAt) + 1000 / this.ratePerSecond;
  }

  /** Calls started in the last second. */
  private measuredRate(): number {
    const now = this.clock.now().getTime();
    return this.recentStarts.filter((t) => t > now - 1000).length;
  }

  private record(outcome: CallOutcome, epoch: number): void {
    if (outcome === 'success') {
      this.window = Math.min(this.max, this.window + 1 / this.window);
      if (this.ratePerSecond !== undefined) this.ratePerSecond += 1 / this.ratePerSecond;
    } else if (outcome === 'throttled') {
      this.throttledCount += 1;
      this.lastThrottledAt = this.clock.now().getTime();
      if (epoch === this.epoch) {
        const before = this.limit;
        this.epoch += 1;
        this.window = Math.max(1, this.window / 2);
        this.ratePerSecond = Math.max(1, 0.75 * (this.ratePerSecond ?? this.measuredRate()));
        if (this.limit < before) {
          this.decreaseCount += 1;
          this.onDecrease?.(this.limit);
        }
      }
    }
  }

  private wake(): void {
    let free = this.limit - this.active;
    while (free > 0 && this.waiting.length > 0) {
      this.waiting.shift()!();
      free -= 1;
    }
  }
}
