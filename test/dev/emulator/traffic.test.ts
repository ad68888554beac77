import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretClient } from '@azure/keyvault-secrets';
import {
  emulatorClientOptions,
  rawRequest,
  sdkClients,
  startTestEmulator,
  staticTestCredential,
  type TestEmulator,
} from '../../support/emulator';

describe('emulator: throttling and injected faults', () => {
  let emulator: TestEmulator;

  beforeAll(async () => {
    emulator = await startTestEmulator({ vaults: [{ name: 'busy' }, { name: 'calm' }] });
  });
  afterAll(() => emulator.stop());

  const busyUrl = () => emulator.vaults[0]!.url;

  it('with Retry-After the SDK waits, retries and succeeds', async () => {
    const { secrets } = sdkClients(busyUrl(), emulator.caCertPem);
    await secrets.setSecret('warm-up', 'x'); // the challenge round trip is not counted
    emulator.configure({ throttle: { operations: 2, windowSeconds: 1, retryAfter: 'always' } }, 'busy');
    try {
      const started = Date.now();
      for (let i = 0; i < 3; i++) await secrets.setSecret(`retry-${i}`, 'x');
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect((await secrets.getSecret('retry-2')).value).toBe('x');
    } finally {
      emulator.configure({ throttle: { operations: 4000, windowSeconds: 10 } }, 'busy');
    }
  });

  it('without Retry-After the 429 surfaces as a RestError with code Throttled', async () => {
    const { secrets } = sdkClients(busyUrl(), emulator.caCertPem);
    await secrets.setSecret('warm-up', 'x');
    emulator.configure({ throttle: { operations: 1, windowSeconds: 10, retryAfter: 'never' } }, 'busy');
    try {
      await secrets.setSecret('first', 'x');
      const error = await secrets.setSecret('second', 'x').catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'RestError', statusCode: 429, code: 'Throttled' });
      const raw = await rawRequest(busyUrl(), emulator.caCertPem, '/secrets/first?api-version=7.6');
      expect(raw.headers['retry-after']).toBeUndefined();
      expect(raw.body).toEqual({
        error: {
          code: 'Throttled',
          message:
            'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached',
        },
      });
      // throttling is per vault: the other vault still answers
      expect((await sdkClients(emulator.vaults[1]!.url, emulator.caCertPem).secrets.setSecret('calm', 'x')).value).toBe(
        'x',
      );
    } finally {
      emulator.configure({ throttle: { operations: 4000, windowSeconds: 10, retryAfter: 'always' } }, 'busy');
    }
  });

  it('injects 503 and connection resets that the SDK retries through', async () => {
    const secrets = new SecretClient(busyUrl(), staticTestCredential, {
      ...emulatorClientOptions(emulator.caCertPem),
      retryOptions: { maxRetries: 10, retryDelayInMs: 5, maxRetryDelayInMs: 20 },
    });
    await secrets.setSecret('faulty', 'before');
    emulator.configure({ faults: { seed: 7, rate503: 0.3, rateReset: 0.2, latencyMs: [1, 5] } }, 'busy');
    try {
      for (let i = 0; i < 10; i++) await secrets.setSecret('faulty', `v${i}`);
    } finally {
      emulator.configure({ faults: null }, 'busy');
    }
    expect((await secrets.getSecret('faulty')).value).toBe('v9');
  });

  it('repeats the same fault sequence for the same seed', async () => {
    const outcomes = async () => {
      emulator.configure({ faults: { seed: 42, rate429: 0.2, rate503: 0.2, rateReset: 0.2 } }, 'busy');
      const seen: (number | 'reset')[] = [];
      for (let i = 0; i < 25; i++) {
        const answer = await rawRequest(busyUrl(), emulator.caCertPem, '/secrets?api-version=7.6').catch(
          () => 'reset' as const,
        );
        seen.push(answer === 'reset' ? answer : answer.status);
      }
      return seen;
    };
    try {
      const first = await outcomes();
      expect(new Set(first)).toEqual(new Set([200, 429, 503, 'reset']));
      expect(await outcomes()).toEqual(first);
    } finally {
      emulator.configure({ faults: null }, 'busy');
    }
  });
});
