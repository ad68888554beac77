import type { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionDefinition } from '../../../src/functions/definition';
import { encodeMessage, startDevHost, type RunningDevHost } from '../../../dev/host';
import { startTestAzurite, type TestAzurite } from '../../support/azurite';

interface Delivery {
  message: unknown;
  dequeueCount: unknown;
  id: unknown;
  insertionTime: unknown;
}

describe('dev host: Storage Queue functions against Azurite', () => {
  let azurite: TestAzurite;
  let host: RunningDevHost;
  const jobs: Delivery[] = [];
  const failures: Delivery[] = [];

  const definitions: FunctionDefinition[] = [
    {
      trigger: 'queue',
      name: 'backupJob',
      queueName: '%TEST_JOB_QUEUE%',
      connection: 'TEST_STORAGE',
      handler: async (message, context) => {
        const { dequeueCount, id, insertionTime } = context.triggerMetadata ?? {};
        jobs.push({ message, dequeueCount, id, insertionTime });
      },
    },
    {
      trigger: 'queue',
      name: 'alwaysFails',
      queueName: 'doomed-jobs',
      connection: 'TEST_STORAGE',
      handler: async (message, context) => {
        failures.push({
          message,
          dequeueCount: context.triggerMetadata?.dequeueCount,
          id: undefined,
          insertionTime: undefined,
        });
        throw new Error('cannot back up');
      },
    },
  ];

  const queue = (name: string): QueueClient => azurite.queueService().getQueueClient(name);

  beforeAll(async () => {
    azurite = await startTestAzurite();
    host = await startDevHost({
      definitions,
      settings: { TEST_STORAGE: azurite.connectionString, TEST_JOB_QUEUE: 'backup-jobs' },
      visibilityTimeoutSeconds: 0,
      queuePollMs: 100,
      logSink: () => undefined,
    });
  });
  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it('creates missing trigger queues at start', async () => {
    expect(await queue('backup-jobs').exists()).toBe(true);
    expect(await queue('doomed-jobs').exists()).toBe(true);
  });

  it('invokes the function with the decoded JSON message and the trigger metadata, then deletes the message', async () => {
    await queue('backup-jobs').sendMessage(encodeMessage({ vault: 'demo', kind: 'full' }));
    await queue('backup-jobs').sendMessage(encodeMessage('plain text job'));
    await host.idle();
    expect(jobs.map((j) => j.message)).toEqual(
      expect.arrayContaining([{ vault: 'demo', kind: 'full' }, 'plain text job']),
    );
    expect(jobs[0]).toMatchObject({
      dequeueCount: 1,
      id: expect.any(String),
      insertionTime: expect.stringMatching(/^\d{4}-/),
    });
    expect((await queue('backup-jobs').getProperties()).approximateMessagesCount).toBe(0);
  });

  it('retries a failing message and moves it to <queue>-poison after 5 attempts, unchanged', async () => {
    const text = encodeMessage({ vault: 'broken' });
    await queue('doomed-jobs').sendMessage(text);
    await host.idle();
    expect(failures.map((f) => f.dequeueCount)).toEqual([1, 2, 3, 4, 5]);
    const poisoned = await queue('doomed-jobs-poison').peekMessages({ numberOfMessages: 32 });
    expect(poisoned.peekedMessageItems.map((m) => m.messageText)).toEqual([text]);
    expect((await queue('doomed-jobs').getProperties()).approximateMessagesCount).toBe(0);
  });

  it('moves a message that is not base64 straight to the poison queue without invoking', async () => {
    const before = jobs.length;
    await queue('backup-jobs').sendMessage('{"not":"base64"}');
    await host.idle();
    expect(jobs.length).toBe(before);
    const poisoned = await queue('backup-jobs-poison').peekMessages();
    expect(poisoned.peekedMessageItems.map((m) => m.messageText)).toEqual(['{"not":"base64"}']);
  });

  it('runs a queue function from the admin API with the input as the message', async () => {
    const answer = await fetch(`${host.url}/admin/functions/backupJob`, {
      method: 'POST',
      headers: { 'x-functions-key': host.masterKey },
      body: JSON.stringify({ input: '{"vault":"from-admin"}' }),
    });
    expect(answer.status).toBe(202);
    await host.idle();
    expect(jobs.at(-1)?.message).toEqual({ vault: 'from-admin' });
  });

  it('refuses to start a queue function whose connection setting is missing', async () => {
    await expect(
      startDevHost({
        definitions: [definitions[0]!],
        settings: { TEST_JOB_QUEUE: 'x-jobs' },
        logSink: () => undefined,
      }),
    ).rejects.toThrow(/queue function backupJob: setting TEST_STORAGE must hold a storage connection string/);
  });
});
