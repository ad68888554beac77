import { createHttpHeaders, createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it, vi } from 'vitest';
import { AdaptiveLimiter } from '../../../src/adapters/key-vault/adaptive-limiter';
import { DEFAULT_RETRY, RetryingCaller } from '../../../src/adapters/key-vault/retrying-caller';
import { KvGuardError } from '../../../src/core/errors';
import { ManualClock } from '../../support/in-memory';

const request = createPipelineRequest({ url: 'https://demo.vault.azure.net/keys' });
const http = (status: number, headers: Record<string, string> = {}) =>
  new RestError(`HTTP ${status}`, {
    statusCode: status,
    code: status === 429 ? 'Throttled' : 'ServiceUnavailable',
    request,
    response: { status, headers: createHttpHeaders(headers), request },
  });

function caller(
  clock: ManualClock,
  deadlineMs = 60_000,
  limiter = new AdaptiveLimiter({ max: 4, ceilingPerSecond: 1_000, clock }),
) {
  return new RetryingCaller({
    vault: 'demo',
    limiter,
    clock,
    deadline: new Date(clock.now().getTime() + deadlineMs),
    retry: { ...DEFAULT_RETRY, maxRetries: 3 },
    random: () => 0.5,
  });
}

/** An attempt that fails with the given errors in turn, then answers 'ok'. */
function failing(...errors: Error[]) {
  let calls = 0;
  const attempt = async () => {
    const error = errors[calls++];
    if (error) throw error;
    return 'ok';
  };
  return { attempt, calls: () => calls };
}

describe('RetryingCaller', () => {
  it('rides out 429s with and without Retry-After, and 503s and resets, then succeeds', async () => {
    const clock = new ManualClock();
    const reset = new RestError('socket hang up', { code: 'ECONNRESET', request });
    const script = failing(http(429), http(429, { 'retry-after': '2' }), http(503), reset, http(429));
    const c = caller(clock);
    await expect(c.call('list keys', script.attempt)).resolves.toBe('ok');
    expect(script.calls()).toBe(6);
    expect(c.stats()).toMatchObject({ throttled: 3, retries: 5 });
    expect(clock.slept[1]).toBeGreaterThanOrEqual(2_000);
  });

  it('never turns 429s into a failure before the deadline, and answers DeadlineExceeded after it', async () => {
    const clock = new ManualClock();
    const always429 = async () => {
      throw http(429);
    };
    const c = caller(clock, 30_000);
    const error = await c.call('backup key k', always429).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KvGuardError);
    expect(error).toMatchObject({ code: 'DeadlineExceeded', statusCode: 429 });
    expect(clock.now().getTime() - new Date('2025-01-01T00:00:00Z').getTime()).toBeLessThanOrEqual(30_000);
    expect(c.stats().throttled).toBeGreaterThan(3);
  });

  it('gives up on transient faults after maxRetries and throws the last one', async () => {
    const clock = new ManualClock();
    const script = failing(http(503), http(503), http(503), http(503), http(503));
    await expect(caller(clock).call('backup key k', script.attempt)).rejects.toMatchObject({
      code: 'Transient',
      statusCode: 503,
    });
    expect(script.calls()).toBe(4);
  });

  it('does not retry what is not retryable', async () => {
    const clock = new ManualClock();
    const script = failing(http(403));
    await expect(caller(clock).call('backup key k', script.attempt)).rejects.toMatchObject({ code: 'Forbidden' });
    expect(script.calls()).toBe(1);
    expect(clock.slept).toEqual([]);
  });

  it('lets the caller reinterpret a failure, knowing what earlier attempts saw', async () => {
    const clock = new ManualClock();
    const script = failing(http(503), new RestError('gone', { statusCode: 404, code: 'KeyNotFound', request }));
    const seen: string[][] = [];
    const result = await caller(clock).call('delete key k', script.attempt, async (error, previous) => {
      seen.push([...previous]);
      return error.code === 'NotFound' && previous.includes('Transient') ? { value: 'done-earlier' } : error;
    });
    expect(result).toBe('done-earlier');
    expect(seen).toEqual([[], ['Transient']]);
  });

  it('makes only the throttled call wait: another call to the same vault starts at once', async () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveLimiter({ max: 4, ceilingPerSecond: 1_000_000, clock });
    const c = caller(clock, 60_000, limiter);
    await Promise.all([
      c.call('backup key a', failing(http(429, { 'retry-after': '5' })).attempt),
      c.call('backup key b', async () => 'ok'),
      c.call('backup key c', async () => 'ok'),
    ]);
    // One wait of the service's 5 s, for the throttled call alone (before, every call of the vault waited it out).
    expect(clock.slept.filter((ms) => ms >= 1_000)).toHaveLength(1);
  });

  it('reports each 429 to the shared limiter of the vault', async () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveLimiter({ max: 8, ceilingPerSecond: 1_000, clock });
    await caller(clock, 60_000, limiter).call('list keys', failing(http(429), http(429)).attempt);
    expect(limiter.stats().throttled).toBe(2);
  });

  it('retries a listing page like any call, each attempt ahead of the calls waiting for the pace', async () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveLimiter({ max: 8, ceilingPerSecond: 1_000, clock });
    const acquire = vi.spyOn(limiter, 'acquire');
    await expect(
      caller(clock, 60_000, limiter).callFirst('list keys', failing(http(429), http(503)).attempt),
    ).resolves.toBe('ok');
    expect(acquire.mock.calls).toEqual([[{ first: true }], [{ first: true }], [{ first: true }]]);
  });
});
