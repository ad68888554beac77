import { describe, expect, it } from 'vitest';
import { fullJitterDelayMs, retryDelayMs } from '../../../src/adapters/key-vault/backoff';
import { KvGuardError } from '../../../src/core/errors';

const settings = { baseDelayMs: 100, maxDelayMs: 1_000 };

describe('backoff', () => {
  it('draws full-jitter delays under a doubling ceiling capped at the maximum', () => {
    expect(fullJitterDelayMs(0, settings, () => 0.999)).toBe(99);
    expect(fullJitterDelayMs(3, settings, () => 0.5)).toBe(400);
    expect(fullJitterDelayMs(20, settings, () => 0.999)).toBe(999);
    expect(fullJitterDelayMs(5, settings, () => 0)).toBe(0);
  });

  it('waits what Retry-After asked, plus at most 10 % jitter', () => {
    const throttled = new KvGuardError('Throttled', 'slow down', { retryAfterSeconds: 2 });
    expect(retryDelayMs(throttled, 0, settings, () => 0)).toBe(2_000);
    expect(retryDelayMs(throttled, 0, settings, () => 0.999)).toBeLessThan(2_200);
  });

  it('never retries a 429 without Retry-After at once, but may retry a transient fault at once', () => {
    expect(retryDelayMs(new KvGuardError('Throttled', 'slow down'), 0, settings, () => 0)).toBe(100);
    expect(retryDelayMs(new KvGuardError('Transient', 'reset'), 0, settings, () => 0)).toBe(0);
  });
});
