/** Unchanged Azure SDK clients pointed at an emulator vault: the seed, the tests and the bench all build them here. */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { CertificateClient } from '@azure/keyvault-certificates';
import { KeyClient } from '@azure/keyvault-keys';
import { SecretClient } from '@azure/keyvault-secrets';
import { challengeGatePolicy } from '../../src/adapters/key-vault/challenge-gate';

/** A credential with a fixed token; the emulator accepts any bearer token, so it is not a secret. */
export const emulatorTokenCredential: TokenCredential = {
  async getToken(): Promise<AccessToken> {
    return { token: 'kvguard-local-token', expiresOnTimestamp: Date.now() + 3600_000 };
  },
};

/**
 * Options for one client of the emulator: skip the challenge-resource check (localhost is not *.vault.azure.net),
 * trust its CA, and the same challenge gate kvguard's adapter uses (a new one per call: one per client).
 */
export function emulatorClientOptions(caCertPem: string) {
  return {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: caCertPem },
    additionalPolicies: [{ policy: challengeGatePolicy(), position: 'perCall' as const }],
  };
}

/** The three SDK clients of one emulator vault. */
export interface EmulatorSdkClients {
  keys: KeyClient;
  secrets: SecretClient;
  certificates: CertificateClient;
}

/**
 * Unchanged SDK clients for one emulator vault.
 * @param vaultUrl - the vault's URL (https://localhost:<port>/)
 * @param caCertPem - the emulator CA the clients must trust
 */
export function emulatorSdkClients(vaultUrl: string, caCertPem: string): EmulatorSdkClients {
  return {
    keys: new KeyClient(vaultUrl, emulatorTokenCredential, emulatorClientOptions(caCertPem)),
    secrets: new SecretClient(vaultUrl, emulatorTokenCredential, emulatorClientOptions(caCertPem)),
    certificates: new CertificateClient(vaultUrl, emulatorTokenCredential, emulatorClientOptions(caCertPem)),
  };
}
