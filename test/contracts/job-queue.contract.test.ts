/**
 * The JobQueue contract, run against the in-memory fake and the storage queue on Azurite: what a use case sends
 * must reach the queue trigger as the same JSON, and a job too large for a queue message must fail on both.
 */
import type { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeQueueMessage, StorageJobQueue } from '../../src/adapters/storage-queue';
import type { JobQueue } from '../../src/core/ports';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { InMemoryQueue } from '../support/in-memory';

type Job = Record<string, unknown>;

/** A queue and what a consumer can receive from it right now. */
interface QueueUnderTest {
  queue: JobQueue<Job>;
  /** The jobs visible to a consumer now, oldest first. */
  visible: () => Promise<unknown[]>;
}

/**
 * The behaviour every {@link JobQueue} keeps.
 * @param name - which implementation
 * @param newQueue - an empty queue
 */
function jobQueueContract(name: string, newQueue: () => QueueUnderTest): void {
  describe(`JobQueue contract: ${name}`, () => {
    it('delivers jobs in order as JSON (dates become ISO strings)', async () => {
      const { queue, visible } = newQueue();
      await queue.send({ kind: 'backup', vault: 'demo', at: new Date('2025-01-01T00:00:00Z') });
      await queue.send({ kind: 'backup', vault: 'other', nested: { list: [1, 'two', null] } });
      expect(await visible()).toEqual([
        { kind: 'backup', vault: 'demo', at: '2025-01-01T00:00:00.000Z' },
        { kind: 'backup', vault: 'other', nested: { list: [1, 'two', null] } },
      ]);
    });

    it('keeps a delayed job out of sight', async () => {
      const { queue, visible } = newQueue();
      await queue.send({ kind: 'later' }, { delaySeconds: 300 });
      await queue.send({ kind: 'now' });
      expect(await visible()).toEqual([{ kind: 'now' }]);
    });

    it('refuses a job too large for one queue message and sends nothing', async () => {
      const { queue, visible } = newQueue();
      await expect(queue.send({ kind: 'huge', names: 'x'.repeat(60 * 1024) })).rejects.toMatchObject({
        code: 'ValidationError',
        field: 'job',
      });
      expect(await visible()).toEqual([]);
    });
  });
}

let azurite: TestAzurite;
beforeAll(async () => {
  azurite = await startTestAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

jobQueueContract('in-memory fake', () => {
  const queue = new InMemoryQueue<Job>();
  return { queue, visible: async () => queue.sent.filter((s) => !s.delaySeconds).map((s) => s.job) };
});

jobQueueContract('storage queue on Azurite', () => {
  const client: QueueClient = azurite.queueService().getQueueClient(uniqueStorageName('jobs'));
  return {
    queue: new StorageJobQueue<Job>(client),
    visible: async () => {
      if (!(await client.exists())) return [];
      const { peekedMessageItems } = await client.peekMessages({ numberOfMessages: 32 });
      return peekedMessageItems.map((m) => decodeQueueMessage(m.messageText));
    },
  };
});
