/** Unchanged Azure SDK clients pointed at an emulator vault: the seed, the tests and the bench all build them here. */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { CertificateClient } from '@azure/keyvault-certificates';
import { KeyClient } from '@azure/keyvault-keys';
import { SecretClient } from '@azure/keyvault-secrets';

/** A credential with a fixed token; the emulator accepts any bearer token, so it is not a secret. */
export const emulatorTokenCredential: TokenCredential = {
  async getToken(): Promise<AccessToken> {
    return { token: 'kvguard-local-token', expiresOnTimestamp: Date.now() + 3600_000 };
  },
};

/** Client options the emulator needs: skip the challenge-resource check (localhost is not *.vault.azure.net) and trust its CA. */
export function emulatorClientOptions(caCertPem: string) {
  return { disableChallengeResourceVerification: true, tlsOptions: { ca: caCertPem } };
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
  const options = emulatorClientOptions(caCertPem);
  return {
    keys: new KeyClient(vaultUrl, emulatorTokenCredential, options),
    secrets: new SecretClient(vaultUrl, emulatorTokenCredential, options),
    certificates: new CertificateClient(vaultUrl, emulatorTokenCredential, options),
  };
}
