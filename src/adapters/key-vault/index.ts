/**
 * The retry-aware Key Vault adapter every function uses: {@link createKeyVaultPortFactory} opens a
 * {@link VaultPort} per vault and run. The SDK's own retries are switched off so that exactly one place retries —
 * the SDK retries a 429 only when `Retry-After` is present, which Key Vault often omits — and all calls to one vault
 * share one adaptive concurrency limit.
 */
import type { TokenCredential } from '@azure/core-auth';
import { CertificateClient } from '@azure/keyvault-certificates';
import { CryptographyClient, KeyClient, parseKeyVaultKeyIdentifier } from '@azure/keyvault-keys';
import { SecretClient } from '@azure/keyvault-secrets';
import { normaliseVaultUrl, vaultNameFromUrl } from '../../config';
import type { ObjectType } from '../../core/domain';
import {
  systemClock,
  type Clock,
  type Logger,
  type OpenVaultOptions,
  type PortableVaults,
  type Telemetry,
  type VaultPort,
  type VaultPortFactory,
} from '../../core/ports';
import { AdaptiveLimiter, type LimiterStats, type SharedBudget } from './adaptive-limiter';
import { challengeGatePolicy } from './challenge-gate';
import { innerErrorPolicy } from './classify';
import { certificateFamily, keyFamily, nextLinkPolicy, secretFamily, type ObjectFamily } from './families';
import { DEFAULT_POLL, KeyVaultPort, type PollSettings } from './key-vault-port';
import { DEFAULT_RETRY, RetryingCaller, type RetrySettings } from './retrying-caller';
import { KeyVaultKeyWrapper, KeyVaultMaterial } from './portable';

export { AdaptiveLimiter, type SharedBudget } from './adaptive-limiter';
export { createSharedBudget } from './shared-budget';
export { challengeGatePolicy } from './challenge-gate';
export { classifyVaultError, parseRetryAfter } from './classify';
export { retryDelayMs, fullJitterDelayMs } from './backoff';
export type { RetrySettings } from './retrying-caller';
export type { PollSettings } from './key-vault-port';

/** Options of {@link createKeyVaultPortFactory}. */
export interface KeyVaultPortFactoryOptions {
  /** Identity used for every vault (managed identity in Azure). */
  credential: TokenCredential;
  /** Most calls in flight per vault (a safety bound; calls are paced by rate). */
  maxConcurrency: number;
  /** Most call starts per second kvguard may make against a vault: its share of that vault's published limit. */
  ceilingPerSecond: (url: string) => number;
  /** A budget every vault shares (the subscription-wide limit), when there is one. */
  shared?: SharedBudget;
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
export interface KeyVaultPortFactory extends VaultPortFactory, PortableVaults {
  /** The shared limiter's counters of a vault, once a port to it was opened. */
  limiterStats(url: string): LimiterStats | undefined;
}

/** SDK clients and the shared limit of one vault. */
interface VaultEntry {
  clients: VaultClients;
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
      const clients = createClients(url, options);
      entry = {
        clients,
        families: {
          key: keyFamily(clients.keys),
          secret: secretFamily(clients.secrets),
          certificate: certificateFamily(clients.certificates),
        },
        limiter: new AdaptiveLimiter({
          max: options.maxConcurrency,
          ceilingPerSecond: options.ceilingPerSecond(url),
          shared: options.shared,
          clock,
          onDecrease: (ratePerSecond) => {
            const rounded = Math.round(ratePerSecond * 10) / 10;
            options.logger.warn('Key Vault throttled; kvguard yields and lowers its pace', {
              vault: name,
              ratePerSecond: rounded,
            });
            options.telemetry.metric('kvguard.vault.ratePerSecond', rounded, { vault: name });
          },
        }),
      };
      vaults.set(url, entry);
    }
    return entry;
  };

  /** One run's view of a vault: its clients and a caller with the run's deadline on the vault's shared limit. */
  const openRun = (rawUrl: string, openOptions: OpenVaultOptions) => {
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
    return { url, name, entry, caller };
  };

  return {
    open(rawUrl: string, openOptions: OpenVaultOptions = {}): VaultPort {
      const { url, name, entry, caller } = openRun(rawUrl, openOptions);
      return new KeyVaultPort({ url, name, families: entry.families, caller, clock, poll });
    },
    material(rawUrl: string, openOptions: OpenVaultOptions = {}) {
      const { name, entry, caller } = openRun(rawUrl, openOptions);
      return new KeyVaultMaterial({
        name,
        secrets: entry.clients.secrets,
        certificates: entry.clients.certificates,
        caller,
      });
    },
    keyWrapper(keyId: string, openOptions: OpenVaultOptions = {}) {
      const { vaultUrl } = parseKeyVaultKeyIdentifier(keyId);
      const { entry, caller } = openRun(vaultUrl, openOptions);
      return new KeyVaultKeyWrapper({
        keyId,
        keys: entry.clients.keys,
        cryptography: (id) => new CryptographyClient(id, options.credential, clientOptions(options)),
        caller,
      });
    },
    limiterStats(rawUrl: string): LimiterStats | undefined {
      return vaults.get(normaliseVaultUrl(rawUrl))?.limiter.stats();
    },
  };
}

/** The SDK clients of one vault. */
interface VaultClients {
  keys: KeyClient;
  secrets: SecretClient;
  certificates: CertificateClient;
}

/**
 * kvguard's pipeline settings for one SDK client. Built per client: each client has its own challenge handshake, so
 * each needs its own gate.
 */
function clientOptions(options: KeyVaultPortFactoryOptions) {
  return {
    // One place retries (the adapter); the SDK gives up after the first answer.
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [
      { policy: challengeGatePolicy(), position: 'perCall' as const },
      { policy: innerErrorPolicy, position: 'perRetry' as const },
      { policy: nextLinkPolicy, position: 'perCall' as const },
    ],
    ...(options.caCertPem ? { tlsOptions: { ca: options.caCertPem }, disableChallengeResourceVerification: true } : {}),
  };
}

/** The three SDK clients of a vault, with kvguard's pipeline settings. */
function createClients(url: string, options: KeyVaultPortFactoryOptions): VaultClients {
  return {
    keys: new KeyClient(url, options.credential, clientOptions(options)),
    secrets: new SecretClient(url, options.credential, clientOptions(options)),
    certificates: new CertificateClient(url, options.credential, clientOptions(options)),
  };
}
