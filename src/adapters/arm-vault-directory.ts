/**
 * {@link VaultDirectory} on Azure Resource Manager with `@azure/arm-keyvault`: `vaults.listBySubscription` answers
 * each vault's URI, tags and permission model in one paged listing. The tag filter is applied here, since the
 * vaults listing has no server-side tag filter.
 */
import type { TokenCredential } from '@azure/core-auth';
import { KeyVaultManagementClient, type Vault } from '@azure/arm-keyvault';
import type { TaggedVault, VaultDirectory } from '../core/ports';
import { storageError } from './storage-errors';

/** Options of {@link createArmVaultDirectory}. */
export interface ArmVaultDirectoryOptions {
  credential: TokenCredential;
  /** ARM endpoint, e.g. `https://management.azure.com` (sovereign clouds, local stand-ins). */
  endpoint: string;
  /** Extra CA to trust (a local stand-in's); Azure needs none. */
  caCertPem?: string;
}

/** A vault directory reading Azure Resource Manager. */
export function createArmVaultDirectory(options: ArmVaultDirectoryOptions): VaultDirectory {
  return {
    async *listTaggedVaults(subscriptionId, tag) {
      const client = new KeyVaultManagementClient(options.credential, subscriptionId, {
        endpoint: options.endpoint.replace(/\/+$/, ''),
        ...(options.caCertPem ? { tlsOptions: { ca: options.caCertPem } } : {}),
      });
      try {
        for await (const vault of client.vaults.listBySubscription()) {
          const tagged = taggedVault(vault, tag);
          if (tagged) yield tagged;
        }
      } catch (error) {
        // ARM's RestError carries status and code like the storage SDKs' do: classified the same way.
        throw storageError(error, `list vaults of subscription ${subscriptionId}`);
      }
    },
  };
}

/** The vault as a {@link TaggedVault} when its tag matches (name and value case-insensitive), else undefined. */
function taggedVault(vault: Vault, tag: { name: string; value: string }): TaggedVault | undefined {
  const entry = Object.entries(vault.tags ?? {}).find(([name]) => name.toLowerCase() === tag.name.toLowerCase());
  if (!entry || entry[1].trim().toLowerCase() !== tag.value.toLowerCase()) return undefined;
  const url = vault.properties?.vaultUri;
  if (!vault.id || !vault.name || !url) return undefined;
  return {
    resourceId: vault.id,
    name: vault.name.toLowerCase(),
    url: url.endsWith('/') ? url : `${url}/`,
    permissionModel: vault.properties?.enableRbacAuthorization ? 'rbac' : 'accessPolicy',
  };
}
