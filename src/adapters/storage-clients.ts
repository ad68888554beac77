/**
 * Blob and Queue service clients from kvguard's storage settings: a connection string (`KVGUARD_STORAGE`, local
 * development and Azurite) or identity-based endpoints (`KVGUARD_STORAGE__blobServiceUri` /
 * `__queueServiceUri`, the same convention the Functions host uses for `AzureWebJobsStorage__*`) with a
 * TokenCredential, so the account can run with shared-key access disabled.
 */
import type { TokenCredential } from '@azure/core-auth';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { KvGuardError } from '../core/errors';

/** Where the storage account is and how to reach it. */
export interface StorageSettings {
  /** Connection string; wins over the URIs when both are set. */
  connectionString?: string;
  /** e.g. `https://<account>.blob.core.windows.net`. */
  blobServiceUri?: string;
  /** e.g. `https://<account>.queue.core.windows.net`; derived from the blob URI when absent. */
  queueServiceUri?: string;
  /** Identity for the URIs (managed identity in Azure). */
  credential?: TokenCredential;
}

/** The Blob service client for the settings. */
export function createBlobServiceClient(settings: StorageSettings): BlobServiceClient {
  if (settings.connectionString) return BlobServiceClient.fromConnectionString(settings.connectionString);
  return new BlobServiceClient(
    requireUri(settings.blobServiceUri, 'KVGUARD_STORAGE__blobServiceUri'),
    requireCredential(settings),
  );
}

/** The Queue service client for the settings. */
export function createQueueServiceClient(settings: StorageSettings): QueueServiceClient {
  if (settings.connectionString) return QueueServiceClient.fromConnectionString(settings.connectionString);
  const uri = settings.queueServiceUri ?? queueUriFromBlobUri(settings.blobServiceUri);
  return new QueueServiceClient(requireUri(uri, 'KVGUARD_STORAGE__queueServiceUri'), requireCredential(settings));
}

/** `https://acct.blob.core.windows.net` → `https://acct.queue.core.windows.net` (Azure's endpoint naming). */
export function queueUriFromBlobUri(blobServiceUri: string | undefined): string | undefined {
  if (!blobServiceUri) return undefined;
  const url = new URL(blobServiceUri);
  if (!url.hostname.includes('.blob.')) return undefined;
  url.hostname = url.hostname.replace('.blob.', '.queue.');
  return url.toString().replace(/\/$/, '');
}

function requireUri(uri: string | undefined, setting: string): string {
  if (!uri)
    throw new KvGuardError('InvalidConfiguration', `${setting} (or KVGUARD_STORAGE) is required to reach storage`, {
      field: setting,
    });
  return uri;
}

function requireCredential(settings: StorageSettings): TokenCredential {
  if (!settings.credential) {
    throw new KvGuardError('InvalidConfiguration', 'identity-based storage endpoints need a credential', {
      field: 'KVGUARD_CREDENTIAL',
    });
  }
  return settings.credential;
}
