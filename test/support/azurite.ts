import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';

/** Azurite for one test file, with clients for the development account. */
export interface TestAzurite extends RunningAzurite {
  /** A Blob service client against this Azurite. */
  blobService(): BlobServiceClient;
  /** A Queue service client against this Azurite. */
  queueService(): QueueServiceClient;
}

/** How long a test waits for Azurite to listen: a hang detector, generous because a loaded machine is slow. */
const AZURITE_START_PATIENCE_MS = 120_000;

/**
 * Starts an in-memory Azurite on ephemeral ports. Call in `beforeAll` and `await azurite.stop()` in `afterAll`.
 * @example
 * let azurite: TestAzurite;
 * beforeAll(async () => { azurite = await startTestAzurite(); });
 * afterAll(() => azurite?.stop());
 */
export async function startTestAzurite(): Promise<TestAzurite> {
  const azurite = await startAzurite({ startTimeoutMs: AZURITE_START_PATIENCE_MS });
  return {
    ...azurite,
    blobService: () => BlobServiceClient.fromConnectionString(azurite.connectionString),
    queueService: () => QueueServiceClient.fromConnectionString(azurite.connectionString),
  };
}

/** A name unique within a test run, valid for containers and queues (lower case, digits, dashes). */
export function uniqueStorageName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`.toLowerCase();
}
