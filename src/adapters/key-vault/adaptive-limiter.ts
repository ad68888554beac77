/**
 * The pace of one vault, shared by every call to it. Key Vault's limit is a rate (operations per 10 s, per vault),
 * so kvguard paces call *starts* at a rate — evenly spaced, never in bursts — and caps the calls in flight only as a
 * safety bound. The rate starts at kvguard's ceiling (its share of the vault's published limit) and is steered by
 * what the 429s say, judged over short control intervals rather than one answer at a time:
 *
 * - **A lone or sporadic 429** (Key Vault answers some at random) changes nothing: the call retries on its own and
 *   the pace stays, so it costs exactly its retry.
 * - **A persistent limit** — 429s for more than {@link LIMIT_SIGNAL} of an interval's answers, because the vault's
 *   real budget is lower than the ceiling (production traffic spends the same budget) — cuts the rate at once to just
 *   under what the vault actually admitted in that interval, at most halving it in one step. That is the yield:
 *   kvguard gives way first. From the learned limit the rate creeps up by {@link PROBE_PER_SECOND} per second, so a
 *   limit that moves is found again and a steady one is held within a few percent, without a storm.
 * - **429s that a cut did not reduce** are not caused by kvguard's pace (random answers, a noisy neighbour at a
 *   fixed share): the cut is undone and that share of 429s becomes the background the next intervals are judged
 *   against, so random 429s cannot ratchet the rate down.
 * - **Clean intervals** raise a cut rate back towards the ceiling by {@link RECOVERY_PER_SECOND} of the ceiling per
 *   second (full rate again within a couple of seconds) until it meets a learned limit.
 *
 * Start times are booked on arrival, so at full pace the calls that wait hold start slots up to `max` intervals
 * ahead. A listing page is what feeds the calls after it: booked behind them, each page would wait out the whole
 * queue and the pages (one after another per object type) would set the run's pace instead of the vault. A `first`
 * call therefore starts at once and moves the bookings after it back by one interval: the same number of starts
 * over the queue's length, one of them early.
 */
import { systemClock, type Clock } from '../../core/ports';

/** Length of one control interval: long enough to hold a fair sample of answers, short enough to react in time. */
export const CONTROL_INTERVAL_MS = 500;
/** Share of an interval's answers that are 429s (above the background) that says "over the vault's limit". */
export const LIMIT_SIGNAL = 0.02;
/** How far under the admitted rate a cut lands, so the next interval is clean. */
const CUT_MARGIN = 0.97;
/** The most one cut lowers the rate to, as a share of the rate before it. */
const MAX_CUT = 0.5;
/** Growth above a learned limit, as a share of the rate per second. */
export const PROBE_PER_SECOND = 0.02;
/** Recovery below a learned limit (or without one), as a share of the ceiling per second. */
export const RECOVERY_PER_SECOND = 0.5;
/** Fewest answers in an interval to judge it by; fewer are carried over into the next interval. */
const MIN_SAMPLE = 8;
/** A learned limit with no interval over it for this long is forgotten: whatever spent the budget has stopped. */
export const LIMIT_MEMORY_MS = 10_000;
/** Credit for idle time: a pace that fell behind may catch up by at most this much. */
const CATCH_UP_MS = 100;

/** How a call that held a slot ended. */
export type CallOutcome = 'success' | 'throttled' | 'failed';

/** What one control interval saw. */
interface IntervalCounts {
  answered: number;
  /** Answers that were 429s. */
  refused: number;
  /** Share of the answers that were 429s. */
  share: number;
  /** Calls answered per second, 429s included: what the run offered the vault. */
  offeredPerSecond: number;
  /** Calls the vault accepted per second. */
  admittedPerSecond: number;
  elapsedMs: number;
}

/** The interval before a cut, kept until the next one says whether the cut reduced the 429s. */
interface Probe {
  rateBefore: number;
  share: number;
  admittedPerSecond: number;
  offeredPerSecond: number;
}

/** A held slot; release it exactly once with the call's outcome. */
export interface Permit {
  release(outcome: CallOutcome): void;
}

/** A budget shared beyond one vault (the subscription's): each call start takes one operation from it first. */
export interface SharedBudget {
  /** Resolves when one more operation may start. */
  take(): Promise<void>;
}

/** Counters of a limiter. */
export interface LimiterStats {
  /** Most calls allowed in flight. */
  limit: number;
  /** Calls holding a slot now. */
  active: number;
  /** Highest number of calls that held slots at once. */
  peakActive: number;
  /** 429s reported. */
  throttled: number;
  /** Times a persistent limit cut the rate. */
  decreases: number;
  /** Current pace in call starts per second. */
  ratePerSecond: number;
  /** The ceiling: kvguard's share of the vault's published limit, per second. */
  ceilingPerSecond: number;
  /** Share of 429s judged not to come from kvguard's pace (random, or a neighbour at a fixed share). */
  background429Share: number;
}

/** Options of an {@link AdaptiveLimiter}. */
export interface AdaptiveLimiterOptions {
  /** Most calls in flight at once (a safety bound; the rate is what paces). */
  max: number;
  /** Most call starts per second: kvguard's share of the vault's published limit. */
  ceilingPerSecond: number;
  /** A budget shared with other vaults and instances (the subscription-wide limit). */
  shared?: SharedBudget;
  /** Called when a persistent limit cut the rate, with the new rate (for a log line). */
  onDecrease?: (ratePerSecond: number) => void;
  /** Clock for pacing (default the system clock). */
  clock?: Clock;
}

/** Paces the calls to one vault at a rate steered by its 429s (see the module comment). */
export class AdaptiveLimiter {
  private readonly max: number;
  private readonly ceiling: number;
  private rate: number;
  private learnedLimit: number | undefined;
  private overLimitAt = 0;
  private background = 0;
  /** Set after a cut, until the next judged interval says whether it helped. */
  private probe: Probe | undefined;
  private active = 0;
  private peak = 0;
  private throttledCount = 0;
  private decreaseCount = 0;
  private nextStartAt = 0;
  private intervalStart: number;
  /** Bumped by each cut: answers to calls started before it say nothing about the new pace and are not counted. */
  private epoch = 0;
  private answered = 0;
  private refused = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly options: AdaptiveLimiterOptions;
  private readonly clock: Clock;

  /** @param options - concurrency bound, rate ceiling, shared budget, decrease hook, clock */
  constructor(options: AdaptiveLimiterOptions) {
    if (!Number.isInteger(options.max) || options.max < 1)
      throw new RangeError(`max must be a positive integer, got ${options.max}`);
    if (!(options.ceilingPerSecond > 0))
      throw new RangeError(`ceilingPerSecond must be positive, got ${options.ceilingPerSecond}`);
    this.options = options;
    this.max = options.max;
    this.ceiling = options.ceilingPerSecond;
    this.rate = this.ceiling;
    this.clock = options.clock ?? systemClock;
    this.intervalStart = this.clock.now().getTime();
    this.nextStartAt = this.intervalStart;
  }

  /** The number of calls allowed in flight. */
  get limit(): number {
    return this.max;
  }

  /** The current pace in call starts per second. */
  get ratePerSecond(): number {
    return this.rate;
  }

  /**
   * Waits for a free slot and for this call's start time at the current pace.
   * @param options - `first`: ahead of the calls already waiting (a listing page that the calls after it depend on)
   */
  async acquire(options: { first?: boolean } = {}): Promise<Permit> {
    while (this.active >= this.max) {
      await new Promise<void>((resolve) =>
        options.first ? this.waiting.unshift(resolve) : this.waiting.push(resolve),
      );
    }
    // After idle time (the start of a run, a lull between runs) the interval starts with the call: time in which
    // nothing was asked of the vault says nothing about what it admits, and counted in, it made the first interval's
    // admitted rate a fraction of the real one (a cut to 8 calls a second at the start of a run).
    if (this.active === 0 && this.answered === 0) this.intervalStart = this.clock.now().getTime();
    this.active += 1;
    this.peak = Math.max(this.peak, this.active);
    const startAt = options.first ? this.reserveFirstStart() : this.reserveStart();
    const wait = startAt - this.clock.now().getTime();
    if (wait > 0) await this.clock.sleep(wait);
    await this.options.shared?.take();
    const epoch = this.epoch;
    let released = false;
    return {
      release: (outcome) => {
        if (released) return;
        released = true;
        this.active -= 1;
        if (outcome === 'throttled') this.throttledCount += 1;
        if (epoch === this.epoch) this.record(outcome);
        this.waiting.shift()?.();
      },
    };
  }

  /** Counters so far. */
  stats(): LimiterStats {
    return {
      limit: this.max,
      active: this.active,
      peakActive: this.peak,
      throttled: this.throttledCount,
      decreases: this.decreaseCount,
      ratePerSecond: Math.round(this.rate * 10) / 10,
      ceilingPerSecond: this.ceiling,
      background429Share: Math.round(this.background * 1000) / 1000,
    };
  }

  /** Books the next start slot at the current pace; a pace that fell behind catches up by at most CATCH_UP_MS. */
  private reserveStart(): number {
    const now = this.clock.now().getTime();
    const startAt = Math.max(this.nextStartAt, now - CATCH_UP_MS);
    this.nextStartAt = startAt + 1000 / this.rate;
    return Math.max(now, startAt);
  }

  /** Starts now when calls are queued, and moves the bookings not yet made back by one interval to pay for it. */
  private reserveFirstStart(): number {
    const now = this.clock.now().getTime();
    const interval = 1000 / this.rate;
    if (this.nextStartAt <= now + interval) return this.reserveStart();
    this.nextStartAt += interval;
    return now;
  }

  private record(outcome: CallOutcome): void {
    if (outcome === 'throttled') this.refused += 1;
    this.answered += 1;
    const now = this.clock.now().getTime();
    const elapsed = now - this.intervalStart;
    if (elapsed < CONTROL_INTERVAL_MS || this.answered < MIN_SAMPLE) return;
    const interval: IntervalCounts = {
      answered: this.answered,
      refused: this.refused,
      share: this.refused / this.answered,
      offeredPerSecond: (this.answered * 1000) / elapsed,
      admittedPerSecond: ((this.answered - this.refused) * 1000) / elapsed,
      elapsedMs: elapsed,
    };
    if (this.learnedLimit !== undefined && now - this.overLimitAt > LIMIT_MEMORY_MS) this.learnedLimit = undefined;
    this.judge(interval);
    if (this.probe) this.overLimitAt = now;
    this.intervalStart = now;
    this.answered = 0;
    this.refused = 0;
  }

  /**
   * After a cut, 429s that a vault limit causes fall (or the vault admits as much as before at the lower pace); 429s
   * answered at random keep their share while what is admitted falls with the calls offered. Offered, not the pace:
   * a run that offers fewer calls than its pace allows (its own CPU, a listing still under way) is not slowed by a
   * cut to its pace, and judging by the pace would take every random 429 for a limit and cut again and again.
   */
  private notCausedByPace(interval: IntervalCounts, probe: Probe): boolean {
    const offeredRatio = interval.offeredPerSecond / Math.max(1e-9, probe.offeredPerSecond);
    const admittedRatio = interval.admittedPerSecond / Math.max(1e-9, probe.admittedPerSecond);
    return interval.share >= probe.share * 0.7 && admittedRatio < offeredRatio * 1.1;
  }

  /** One control step over the interval just ended. */
  private judge(interval: IntervalCounts): void {
    const { share, answered, refused, admittedPerSecond, elapsedMs } = interval;
    // Over the limit when the 429s exceed the background by more than the signal plus two standard errors of the
    // sample, so that the noise of random 429s in a small interval is not taken for a limit.
    const noise = 2 * Math.sqrt((Math.max(this.background, 0.01) * (1 - this.background)) / answered);
    const overLimit = refused >= 2 && share - this.background > LIMIT_SIGNAL + noise;
    if (overLimit && this.probe && this.notCausedByPace(interval, this.probe)) {
      // The cut did not reduce the 429s: they are not kvguard's doing. Undo it and judge against them from now on.
      this.background = share;
      this.rate = this.probe.rateBefore;
      this.learnedLimit = undefined;
      this.probe = undefined;
      return;
    }
    if (overLimit) {
      this.probe = { rateBefore: this.rate, share, admittedPerSecond, offeredPerSecond: interval.offeredPerSecond };
      // At most halved in one step: one interval is a small sample, and a limit further down is reached in a few
      // steps anyway (400 to 50 in three intervals).
      this.rate = Math.max(1, this.rate * MAX_CUT, Math.min(this.rate, admittedPerSecond) * CUT_MARGIN);
      this.learnedLimit = this.rate;
      this.epoch += 1;
      this.decreaseCount += 1;
      this.options.onDecrease?.(this.rate);
      return;
    }
    this.probe = undefined;
    // The background follows what the 429s not caused by kvguard's pace do: ones that stop are forgotten gradually.
    if (this.background > 0) this.background = Math.max(0, 0.8 * this.background + 0.2 * share - 0.001);
    // A few 429s above the background: hold the pace (their retries are all they cost); none: speed up.
    if (refused > 0 && share > this.background) return;
    const seconds = elapsedMs / 1000;
    const belowLimit = this.learnedLimit === undefined || this.rate < this.learnedLimit;
    const grown = belowLimit
      ? Math.min(this.rate + this.ceiling * RECOVERY_PER_SECOND * seconds, this.learnedLimit ?? Infinity)
      : this.rate * (1 + PROBE_PER_SECOND * seconds);
    this.rate = Math.min(this.ceiling, Math.max(this.rate, grown));
    if (this.learnedLimit !== undefined && this.rate > this.learnedLimit) this.learnedLimit = this.rate;
  }
}
