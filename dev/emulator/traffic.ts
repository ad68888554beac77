/** Per-vault traffic shaping: Key Vault's token-bucket throttling and injectable faults, both seeded to repeat. */
import { throttled } from './errors';

/** Throttling knobs (see `EmulatorOptions.throttle`). */
export interface ThrottleOptions {
  operations: number;
  windowSeconds: number;
  retryAfter: 'always' | 'never' | number;
  /** Start (and restart on change) with an empty bucket instead of a full one, so a run gets no free burst. */
  startEmpty?: boolean;
}

/** What a vault's shaper decided so far (operations only; the unauthenticated challenge round trip is not one). */
export interface TrafficCounts {
  /** Requests let through to the vault. */
  passed: number;
  /** 429s because the bucket was empty. */
  throttled: number;
  /** 429s drawn at random by the fault profile. */
  random429: number;
}

/** Fault knobs (see `EmulatorOptions.faults`). */
export interface FaultOptions {
  seed?: number;
  latencyMs?: [number, number];
  rate429?: number;
  rate503?: number;
  rateReset?: number;
  /** Answer every authenticated request 403 AccessDenied (a vault kvguard has no permission on). */
  forbidden?: boolean;
}

/** Key Vault's default budget for most operations on a software vault: 4,000 per 10 s. */
export const DEFAULT_THROTTLE: ThrottleOptions = { operations: 4000, windowSeconds: 10, retryAfter: 'always' };

/** What to do with one request after shaping. */
export type TrafficVerdict =
  | { kind: 'pass'; delayMs: number }
  | { kind: 'throttle'; delayMs: number; retryAfterSeconds?: number }
  | { kind: 'unavailable'; delayMs: number }
  | { kind: 'reset'; delayMs: number }
  | { kind: 'forbidden'; delayMs: number };

/** A small seeded PRNG (mulberry32) so fault runs repeat. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The shaping state of one vault. */
export class TrafficShaper {
  private throttle: ThrottleOptions;
  private faults: FaultOptions | null = null;
  private random: () => number = seededRandom(1);
  private tokens: number;
  private refilledAt = Date.now();

  constructor(throttle: Partial<ThrottleOptions> = {}, faults?: FaultOptions) {
    this.throttle = { ...DEFAULT_THROTTLE, ...throttle };
    this.tokens = this.throttle.startEmpty ? 0 : this.throttle.operations;
    this.setFaults(faults ?? null);
  }

  /** Changes the throttle; the bucket starts full at the new size (empty with `startEmpty`). */
  setThrottle(change: Partial<ThrottleOptions>): void {
    this.throttle = { ...this.throttle, ...change };
    this.tokens = this.throttle.startEmpty ? 0 : this.throttle.operations;
    this.refilledAt = Date.now();
  }

  /** What the throttle let through and refused since the shaper was made (callers diff two readings). */
  traffic(): TrafficCounts {
    return { passed: this.counts.passed, throttled: this.counts.throttled, random429: this.counts.injected429 };
  }

  /** Replaces the fault profile (null = none); the PRNG restarts from the seed. */
  setFaults(faults: FaultOptions | null): void {
    this.faults = faults;
    this.random = seededRandom(faults?.seed ?? 1);
  }

  /** Requests shaped so far and the faults injected into them (for test reports). */
  readonly counts = { requests: 0, injected429: 0, injected503: 0, injectedResets: 0, throttled: 0, passed: 0 };

  /** Decides the fate of the next request. */
  next(): TrafficVerdict {
    this.counts.requests += 1;
    const delayMs = this.latency();
    if (this.faults?.forbidden) return { kind: 'forbidden', delayMs };
    const fault = this.drawFault();
    if (fault === '429') this.counts.injected429 += 1;
    if (fault === '503') this.counts.injected503 += 1;
    if (fault === 'reset') this.counts.injectedResets += 1;
    if (fault === '429') return { kind: 'throttle', delayMs, ...this.retryAfter(1) };
    if (fault === '503') return { kind: 'unavailable', delayMs };
    if (fault === 'reset') return { kind: 'reset', delayMs };
    if (!this.take()) {
      this.counts.throttled += 1;
      return { kind: 'throttle', delayMs, ...this.retryAfter(this.secondsUntilToken()) };
    }
    this.counts.passed += 1;
    return { kind: 'pass', delayMs };
  }

  private latency(): number {
    const range = this.faults?.latencyMs;
    if (!range) return 0;
    const [min, max] = range;
    return Math.round(min + (max - min) * this.random());
  }

  private drawFault(): '429' | '503' | 'reset' | undefined {
    const faults = this.faults;
    if (!faults || !(faults.rate429 || faults.rate503 || faults.rateReset)) return undefined;
    const roll = this.random();
    const r429 = faults.rate429 ?? 0;
    const r503 = r429 + (faults.rate503 ?? 0);
    const rReset = r503 + (faults.rateReset ?? 0);
    if (roll < r429) return '429';
    if (roll < r503) return '503';
    if (roll < rReset) return 'reset';
    return undefined;
  }

  private take(): boolean {
    const now = Date.now();
    const { operations, windowSeconds } = this.throttle;
    const perMs = operations / (windowSeconds * 1000);
    this.tokens = Math.min(operations, this.tokens + (now - this.refilledAt) * perMs);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private secondsUntilToken(): number {
    const { operations, windowSeconds } = this.throttle;
    const perSecond = operations / windowSeconds;
    return Math.max(1, Math.ceil((1 - this.tokens) / perSecond));
  }

  private retryAfter(seconds: number): { retryAfterSeconds?: number } {
    const rule = this.throttle.retryAfter;
    const send = rule === 'always' || (typeof rule === 'number' && this.random() < rule);
    return send ? { retryAfterSeconds: seconds } : {};
  }
}

/** The service's 429 for a verdict. */
export function throttleError(verdict: { retryAfterSeconds?: number }) {
  return throttled(verdict.retryAfterSeconds);
}
