import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { KeyClient } from '@azure/keyvault-keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { challengeGatePolicy } from '../../../src/adapters/key-vault/challenge-gate';
import { staticTestCredential, startTestEmulator, type TestEmulator } from '../../support/emulator';

const CONCURRENT_CREATES = 20;
/** How long the first challenge answer waits for another request's authorised resend before it goes on anyway. */
const FIRST_ANSWER_HOLD_MS = 1_000;

let emulator: TestEmulator;

beforeAll(async () => {
  emulator = await startTestEmulator({ vaults: [{ name: 'gated' }, { name: 'ungated' }] });
});

afterAll(async () => {
  await emulator?.stop();
});

/**
 * Makes the race happen every time instead of under load only: on the wire (after the SDK's authentication policy),
 * the answer to the client's very first request is held until another request has been resent with a token — that is,
 * until another request's 401 has already completed the SDK's challenge — or until a second has passed.
 */
function firstChallengeAnswersLast(): PipelinePolicy {
  let first = true;
  let authorisedSeen = (): void => undefined;
  const anotherAuthorised = new Promise<void>((resolve) => (authorisedSeen = resolve));
  return {
    name: 'firstChallengeAnswersLast',
    async sendRequest(request, next) {
      if (request.headers.has('authorization')) authorisedSeen();
      if (!first) return next(request);
      first = false;
      const response = await next(request);
      await Promise.race([anotherAuthorised, new Promise((resolve) => setTimeout(resolve, FIRST_ANSWER_HOLD_MS))]);
      return response;
    },
  };
}

function freshClient(vaultUrl: string, gated: boolean): KeyClient {
  return new KeyClient(vaultUrl, staticTestCredential, {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: emulator.caCertPem },
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [
      ...(gated ? [{ policy: challengeGatePolicy(), position: 'perCall' as const }] : []),
      { policy: firstChallengeAnswersLast(), position: 'perRetry' as const },
    ],
  });
}

function createConcurrently(client: KeyClient): Promise<PromiseSettledResult<unknown>[]> {
  return Promise.allSettled(
    Array.from({ length: CONCURRENT_CREATES }, (_, i) => client.createEcKey(`ec-${i}`, { curve: 'P-256' })),
  );
}

describe('the challenge gate', () => {
  it('lets many concurrent first creates on a fresh client all succeed', async () => {
    const results = await createConcurrently(freshClient(emulator.vaults[0]!.url, true));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  });

  it('is what prevents it: without the gate the first request is resent without its body and refused', async () => {
    const results = await createConcurrently(freshClient(emulator.vaults[1]!.url, false));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toMatchObject({
      statusCode: 400,
      message: expect.stringContaining('The request body is missing'),
    });
  });
});
