import { describe, expect, it } from 'vitest';
import { AdaptiveLimiter, type Permit } from '../../../src/adapters/key-vault/adaptive-limiter';
import { ManualClock } from '../../support/in-memory';

async function acquireAll(limiter: AdaptiveLimiter, count: number): Promise<Permit[]> {
  return Promise.all(Array.from({ length: count }, () => limiter.acquire()));
}

describe('AdaptiveLimiter', () => {
  it('grows by about one slot per window of successes up to the maximum', async () => {
    const limiter = new AdaptiveLimiter({ max: 8, initial: 2 });
    for (let i = 0; i < 200; i++) (await limiter.acquire()).release('success');
    expect(limiter.limit).toBe(8);
  });

  it('halves once for a burst of 429s from calls that started together, never below one', async () => {
    const decreases: number[] = [];
    const limiter = new AdaptiveLimiter({ max: 16, initial: 16, onDecrease: (limit) => decreases.push(limit) });
    const permits = await acquireAll(limiter, 16);
    for (const permit of permits) permit.release('throttled');
    expect(limiter.limit).toBe(8);
    expect(limiter.stats()).toMatchObject({ throttled: 16, decreases: 1 });
    for (let i = 0; i < 10; i++) (await limiter.acquire()).release('throttled');
    expect(limiter.limit).toBe(1);
    expect(decreases).toEqual([8, 4, 2, 1]);
  });

  it('never lets more calls in than the limit and queues the rest', async () => {
    const limiter = new AdaptiveLimiter({ max: 3, initial: 3 });
    const held = await acquireAll(limiter, 3);
    let fourth = false;
    const waiting = limiter.acquire().then((permit) => {
      fourth = true;
      return permit;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(fourth).toBe(false);
    held[0]!.release('success');
    (await waiting).release('success');
    expect(fourth).toBe(true);
    expect(limiter.stats().peakActive).toBe(3);
    held[1]!.release('failed');
    held[2]!.release('failed');
    expect(limiter.stats().active).toBe(0);
  });

  it('holds every new call back while paused, and a shorter pause never cuts a longer one short', async () => {
    const clock = new ManualClock('2025-01-01T00:00:00Z');
    const limiter = new AdaptiveLimiter({ max: 4, clock });
    limiter.pause(2_000);
    limiter.pause(500);
    (await limiter.acquire()).release('success');
    expect(clock.now().toISOString()).toBe('2025-01-01T00:00:02.000Z');
    (await limiter.acquire()).release('success');
    expect(clock.slept).toEqual([2_000]);
  });

  it('ignores a second release of the same permit', async () => {
    const limiter = new AdaptiveLimiter({ max: 2, initial: 2 });
    const permit = await limiter.acquire();
    permit.release('throttled');
    permit.release('throttled');
    expect(limiter.stats()).toMatchObject({ active: 0, throttled: 1 });
  });

  it('learns a pace from the first 429 and then spaces call starts evenly instead of bursting', async () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveLimiter({ max: 16, initial: 16, clock });
    const burst = await acquireAll(limiter, 16);
    for (const permit of burst.slice(1)) permit.release('success');
    burst[0]!.release('throttled');
    // 16 calls started within the last second when the 429 came: the pace becomes three quarters of that.
    expect(limiter.stats().ratePerSecond).toBeCloseTo(12, 0);
    const startedAt: number[] = [];
    for (let i = 0; i < 5; i++) {
      const permit = await limiter.acquire();
      startedAt.push(clock.now().getTime());
      permit.release('success');
    }
    const gaps = startedAt.slice(1).map((t, i) => t - startedAt[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(75);
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(90);
  });

  it('forgets the pace once no 429 came for 30 s', async () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveLimiter({ max: 4, initial: 4, clock });
    const burst = await acquireAll(limiter, 4);
    for (const permit of burst) permit.release('throttled');
    expect(limiter.stats().ratePerSecond).toBe(3);
    clock.advance(30_001);
    (await limiter.acquire()).release('success');
    expect(limiter.stats().ratePerSecond).toBeUndefined();
  });

  it('has no pace before any 429: a vault that never throttles is not slowed', async () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveLimiter({ max: 4, initial: 4, clock });
    for (let i = 0; i < 50; i++) (await limiter.acquire()).release('success');
    expect(clock.slept).toEqual([]);
    expect(limiter.stats().ratePerSecond).toBeUndefined();
  });
});
