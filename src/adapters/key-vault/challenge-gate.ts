/**
 * The challenge gate: a fresh Key Vault SDK client sends its first request alone and holds the rest until that one
 * has been answered.
 *
 * Why: the SDK's `keyVaultAuthenticationPolicy` keeps one challenge state per client. The first request goes out
 * without its body (kept aside) to provoke the 401 challenge; requests sent meanwhile go out with their bodies and no
 * token. If one of those gets its 401 back first, it marks the challenge complete, and when the first request's 401
 * then arrives the policy no longer puts its body back: it is resent empty and Key Vault answers 400 ("the request
 * body is missing"). Concurrent first creates or restores on a new client (a backup fan-out, a bulk restore) hit it.
 * Letting the first request finish before any other starts makes the handshake happen exactly once, in order.
 */
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

/** Name of the policy in the SDK pipeline. */
export const CHALLENGE_GATE_POLICY_NAME = 'kvguardChallengeGate';

/**
 * A new gate for one SDK client (the challenge state it protects is per client, so never share a gate).
 * Add it with `position: 'perCall'`, which places it in front of the SDK's authentication policy.
 */
export function challengeGatePolicy(): PipelinePolicy {
  let firstAnswered: Promise<void> | undefined;
  let open = false;
  return {
    name: CHALLENGE_GATE_POLICY_NAME,
    async sendRequest(request, next) {
      if (open) return next(request);
      if (firstAnswered) {
        await firstAnswered;
        return next(request);
      }
      let release = (): void => undefined;
      firstAnswered = new Promise<void>((resolve) => (release = resolve));
      try {
        return await next(request);
      } finally {
        // Opened whatever the outcome: the SDK strips a body only from its very first request, so the rest are safe.
        open = true;
        release();
      }
    },
  };
}
