/**
 * {@link StorageProbe} on the storage SDKs: what `kvguard doctor` asks storage. The tamper probe writes one small
 * canary blob under `doctor/` (create-only, outside the catalog's folders) and tries to overwrite and delete it;
 * with WORM and the create-only role both must be refused.
 */
import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueServiceClient } from '@azure/storage-queue';
import type { StorageProbe } from '../core/ports';
import { storageError, storageStatus } from './storage-errors';

/** Options of {@link createStorageProbe}. */
export interface StorageProbeOptions {
  backupContainer: ContainerClient;
  queues: QueueServiceClient;
  /** Reached with a connection string (the local stack). */
  local: boolean;
}

/** Answers a storage probe for the backup container and the queues. */
export function createStorageProbe(options: StorageProbeOptions): StorageProbe {
  const container = options.backupContainer;
  return {
    local: options.local,
    async backupContainerExists() {
      return container.exists().catch((error: unknown) => {
        throw storageError(error, `read container ${container.containerName}`);
      });
    },
    async backupImmutability() {
      try {
        const properties = await container.getProperties();
        return { hasPolicy: properties.hasImmutabilityPolicy, hasLegalHold: properties.hasLegalHold };
      } catch (error) {
        throw storageError(error, `read container ${container.containerName}`);
      }
    },
    async probeTamper() {
      const canary = `doctor/canary-${new Date().toISOString()}-${randomBytes(4).toString('hex')}.txt`;
      const blob = container.getBlockBlobClient(canary);
      const body = Buffer.from('kvguard doctor canary: this blob may neither be overwritten nor deleted\n');
      try {
        await blob.upload(body, body.byteLength, { conditions: { ifNoneMatch: '*' } });
      } catch (error) {
        throw storageError(error, `write ${canary}`);
      }
      const overwriteRefused = await refused(() => blob.upload(body, body.byteLength));
      const deleteRefused = await refused(() => blob.delete());
      return { canary, overwriteRefused, deleteRefused };
    },
    async queueExists(name) {
      return options.queues
        .getQueueClient(name)
        .exists()
        .catch((error: unknown) => {
          throw storageError(error, `read queue ${name}`);
        });
    },
  };
}

/** True when the service refused the call (403 by RBAC, 409 by an immutability policy); rethrows anything else. */
async function refused(attempt: () => Promise<unknown>): Promise<boolean> {
  try {
    await attempt();
    return false;
  } catch (error) {
    const status = storageStatus(error);
    if (status === 403 || status === 409) return true;
    throw storageError(error, 'tamper probe');
  }
}
