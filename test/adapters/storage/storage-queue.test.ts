import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeQueueMessage, StorageJobQueue } from '../../../src/adapters/storage-queue';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../../support/azurite';

let azurite: TestAzurite;

beforeAll(async () => {
  azurite = await startTestAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

describe('StorageJobQueue against Azurite', () => {
  it('creates the queue and sends base64-encoded JSON, as the Functions queue trigger expects', async () => {
    const client = azurite.queueService().getQueueClient(uniqueStorageName('jobs'));
    const queue = new StorageJobQueue<{ kind: string; vaultUrl: string }>(client);
    await queue.send({ kind: 'backup', vaultUrl: 'https://demo.vault.azure.net/' });
    const received = await client.receiveMessages({ numberOfMessages: 5 });
    expect(received.receivedMessageItems).toHaveLength(1);
    const text = received.receivedMessageItems[0]!.messageText;
    expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(decodeQueueMessage(text)).toEqual({ kind: 'backup', vaultUrl: 'https://demo.vault.azure.net/' });
  });

  it('keeps a delayed job invisible until its delay has passed', async () => {
    const client = azurite.queueService().getQueueClient(uniqueStorageName('delayed'));
    const queue = new StorageJobQueue<{ n: number }>(client);
    await queue.send({ n: 1 }, { delaySeconds: 60 });
    expect((await client.receiveMessages()).receivedMessageItems).toHaveLength(0);
    expect((await client.getProperties()).approximateMessagesCount).toBe(1);
  });
});
