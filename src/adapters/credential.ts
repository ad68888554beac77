/**
 * The identity kvguard calls Azure with: `DefaultAzureCredential` in Azure (the Function App's managed identity,
 * or a developer's `az login`), or a fixed local token for the Key Vault emulator, which accepts any bearer token.
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';

/** Which credential to build: `default` (Azure) or `emulator` (local stack only). */
export type CredentialKind = 'default' | 'emulator';

/** A token that only the local emulator accepts; it is not a secret. */
const EMULATOR_TOKEN = 'kvguard-emulator-token';

/**
 * Creates the credential for a configured kind.
 * @param kind - `default` for DefaultAzureCredential, `emulator` for the local static token
 * @param options - `managedIdentityClientId`: the user-assigned identity to use: `AZURE_CLIENT_ID` for everything,
 *   `KVGUARD_PRUNE_CLIENT_ID` for the prune marks only. Without it a Function App with only user-assigned
 *   identities would have no managed identity to pick (and with two, no way to tell them apart)
 */
export function createCredential(
  kind: CredentialKind,
  options: { managedIdentityClientId?: string } = {},
): TokenCredential {
  if (kind === 'emulator') return emulatorCredential;
  return options.managedIdentityClientId
    ? new DefaultAzureCredential({ managedIdentityClientId: options.managedIdentityClientId })
    : new DefaultAzureCredential();
}

/** A credential whose token the emulator accepts (any bearer token); useless against Azure. */
export const emulatorCredential: TokenCredential = {
  async getToken(): Promise<AccessToken> {
    return { token: EMULATOR_TOKEN, expiresOnTimestamp: Date.now() + 60 * 60_000 };
  },
};
