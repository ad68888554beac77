/**
 * The retry-aware Key Vault adapter every function uses: {@link createKeyVaultPortFactory} opens a
 * {@link VaultPort} per vault and run. The SDK's own retries are switched off so that exactly one place retries —
 * the SDK retries a 429 only when `Retry-After` is present, which Key Vault often omits — and all calls to one vault
 * share one adaptive concurrency limit.
 */
import type { TokenCredential } from '@azure/core-auth';
import { CertificateClient } from '@azure/keyvault-certificates';
import { KeyClient } from '@azure/keyvault-keys';
import { SecretClient } from '@azure/keyvault-secrets';
import { normaliseVaultUrl, vaultNameFromUrl } from '../../config';
import type { ObjectType } from '../../core/domain';
import {
  systemClock,
  type Clock,
  type Logger,
  type OpenVaultOptions,
  type Telemetry,
  type VaultPort,
  type VaultPortFactory,
} from '../../core/ports';
import { AdaptiveLimiter, type LimiterStats } from './adaptive-limiter';
import { challengeGatePolicy } from './challenge-gate';
import { innerErrorPolicy } from './classify';
import { certificateFamily, keyFamily, nextLinkPolicy, secretFamily, type ObjectFamily } from './families';
import { DEFAULT_POLL, KeyVaultPort, type PollSettings } from './key-vault-port';
import { DEFAULT_RETRY, RetryingCaller, type RetrySettings } from './retrying-caller';

export { AdaptiveLimiter } from './adaptive-limiter';
export { challengeGatePolicy } from './challenge-gate';
export { classifyVaultError, parseRetryAfter } from './classify';
export { retryDelayMs, fullJitterDelayMs } from './backoff';
export type { RetrySettings } from './retrying-caller';
export type { PollSettings } from './key-vault-port';

/** Options of {@link createKeyVaultPortFactory}. */
export interface KeyVaultPortFactoryOptions {
  /** Identity used for every vault (managed identity in Azure). */
  credential: TokenCredential;
  /** Upper bound of concurrent calls per vault; the adapter adapts below it on 429s. */
  maxConcurrency: number;
  /** Starting concurrency per vault (default half of the maximum). */
  initialConcurrency?: number;
  /** PEM of a CA to trust (the local emulator); also turns off the challenge resource check the emulator cannot pass. */
  caCertPem?: string;
  logger: Logger;
  telemetry: Telemetry;
  clock?: Clock;
  /** Backoff and retry limits. */
  retry?: Partial<RetrySettings>;
  /** How long deletes, recovers and purges are polled for. */
  poll?: Partial<PollSettings>;
  /** Deadline of a port opened without one (default 10 minutes after opening). */
  defaultDeadlineMs?: number;
  /** Uniform random source for jitter (tests). */
  random?: () => number;
}

/** A {@link VaultPortFactory} that can also report the shared per-vault limit (for tests and the bench). */
export interface KeyVaultPortFactory extends VaultPortFactory {
  /** The shared limiter's counters of a vault, once a port to it was opened. */
  limiterStats(url: string): LimiterStats | undefined;
}

/** SDK clients and the shared limit of one vault. */
interface VaultEntry {
  families: Record<ObjectType, ObjectFamily>;
  limiter: AdaptiveLimiter;
}

const DEFAULT_DEADLINE_MS = 10 * 60_000;

/**
 * Creates the factory that opens Key Vault ports.
 * @param options - credential, concurrency bound, optional CA, logger, telemetry, clock, retry and poll settings
 */
export function createKeyVaultPortFactory(options: KeyVaultPortFactoryOptions): KeyVaultPortFactory {
  const clock = options.clock ?? systemClock;
  const retry: RetrySettings = { ...DEFAULT_RETRY, ...options.retry };
  const poll: PollSettings = { ...DEFAULT_POLL, ...options.poll };
  const vaults = new Map<string, VaultEntry>();

  const entryFor = (url: string, name: string): VaultEntry => {
    let entry = vaults.get(url);
    if (!entry) {
      entry = {
        families: createFamilies(url, options),
        limiter: new AdaptiveLimiter({
          max: options.maxConcurrency,
          initial: options.initialConcurrency,
          clock,
          onDecrease: (limit) => {
            options.logger.warn('Key Vault throttled; lowering concurrency', { vault: name, limit });
            options.telemetry.metric('kvguard.vault.concurrencyLimit', limit, { vault: name });
          },
        }),
      };
      vaults.set(url, entry);
    }
    return entry;
  };

  return {
    open(rawUrl: string, openOptions: OpenVaultOptions = {}): VaultPort {
      const url = normaliseVaultUrl(rawUrl);
      const name = vaultNameFromUrl(url);
      const entry = entryFor(url, name);
      const deadline =
        openOptions.deadline ?? new Date(clock.now().getTime() + (options.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS));
      const caller = new RetryingCaller({
        vault: name,
        limiter: entry.limiter,
        clock,
        deadline,
        retry,
        random: options.random,
      });
      return new KeyVaultPort({ url, name, families: entry.families, caller, clock, poll });
    },
    limiterStats(rawUrl: string): LimiterStats | undefined {
      return vaults.get(normaliseVaultUrl(rawUrl))?.limiter.stats();
    },
  };
}

/** The three SDK clients of a vault, with kvguard's pipeline settings. */
function createFamilies(url: string, options: KeyVaultPortFactoryOptions): Record<ObjectType, ObjectFamily> {
  // Built per client: each client has its own challenge handshake, so each needs its own gate.
  const clientOptions = () => ({
    // One place retries (the adapter); the SDK gives up after the first answer.
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [
      { policy: challengeGatePolicy(), position: 'perCall' as const },
      { policy: innerErrorPolicy, position: 'perRetry' as const },
      { policy: nextLinkPolicy, position: 'perCall' as const },
    ],
    ...(options.caCertPem ? { tlsOptions: { ca: options.caCertPem }, disableChallengeResourceVerification: true } : {}),
  });
  return {
    key: keyFamily(new KeyClient(url, options.credential, clientOptions())),
    secret: secretFamily(new SecretClient(url, options.credential, clientOptions())),
    certificate: certificateFamily(new CertificateClient(url, options.credential, clientOptions())),
  };
}
