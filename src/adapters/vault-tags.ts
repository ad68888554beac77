/**
 * Reads a vault's own tags from Azure Resource Manager (tags are a property of the vault resource; the Key Vault
 * data plane does not expose them). Needs the ARM action `Microsoft.KeyVault/vaults/read` on the vault, which
 * kvguard's backup role already grants, and the vault's resource id in its `KVGUARD_VAULTS` entry.
 */
import type { TokenCredential } from '@azure/core-auth';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createPipelineFromOptions,
  createPipelineRequest,
} from '@azure/core-rest-pipeline';
import type { VaultTarget } from '../core/domain';
import { KvGuardError } from '../core/errors';
import type { VaultTagReader } from '../core/policy/pause';

/** The Key Vault resource provider's API version used to read a vault. */
const VAULT_API_VERSION = '2023-07-01';

/** How long one tag read may take: a pause check must not hold up the backup fan-out. */
const TIMEOUT_MS = 10_000;

/**
 * A {@link VaultTagReader} on ARM. A vault without a configured resource id answers undefined (not known).
 * @param credential - the identity kvguard runs as
 * @param endpoint - the ARM endpoint (sovereign clouds differ)
 */
export function createArmVaultTagReader(
  credential: TokenCredential,
  endpoint = 'https://management.azure.com',
): VaultTagReader {
  const pipeline = createPipelineFromOptions({ retryOptions: { maxRetries: 2 } });
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: `${endpoint}/.default` }));
  const client = createDefaultHttpClient();
  return {
    async tags(target: VaultTarget): Promise<Record<string, string> | undefined> {
      if (!target.resourceId) return undefined;
      const request = createPipelineRequest({
        url: `${endpoint}${target.resourceId}?api-version=${VAULT_API_VERSION}`,
        method: 'GET',
        timeout: TIMEOUT_MS,
      });
      const response = await pipeline.sendRequest(client, request);
      if (response.status !== 200) {
        throw new KvGuardError(
          response.status === 403 ? 'Forbidden' : response.status === 404 ? 'NotFound' : 'Transient',
          `reading the tags of vault ${target.name} (${target.resourceId}) answered HTTP ${response.status}`,
          { statusCode: response.status },
        );
      }
      const body = JSON.parse(response.bodyAsText ?? '{}') as { tags?: Record<string, string> };
      return body.tags ?? {};
    },
  };
}
