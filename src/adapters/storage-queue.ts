/**
 * {@link JobQueue} on an Azure Storage queue. Messages are base64-encoded JSON, the encoding the Functions host's
 * queue trigger expects by default (`messageEncoding: base64`), so a job sent here arrives parsed in the trigger.
 */
import type { QueueClient } from '@azure/storage-queue';
import { KvGuardError } from '../core/errors';
import type { JobQueue } from '../core/ports';
import { storageError } from './storage-errors';

/** Storage queues accept at most 64 KiB per message (after encoding). */
const MAX_MESSAGE_BYTES = 64 * 1024;
/** Storage queues hide a message for at most 7 days. */
const MAX_DELAY_SECONDS = 7 * 24 * 3600;

/** Encodes a job the way the Functions host decodes queue messages. */
export function encodeQueueMessage(job: unknown): string {
  return Buffer.from(JSON.stringify(job), 'utf8').toString('base64');
}

/**
 * The queue message text for a job; throws `ValidationError` when it exceeds what a storage queue message holds.
 * @param job - the job (JSON-serialisable)
 */
export function queueMessageText(job: unknown): string {
  const text = encodeQueueMessage(job);
  if (text.length > MAX_MESSAGE_BYTES) {
    throw new KvGuardError(
      'ValidationError',
      `job is ${text.length} bytes encoded; a queue message holds at most ${MAX_MESSAGE_BYTES}`,
      { field: 'job' },
    );
  }
  return text;
}

/** Decodes a message written by {@link encodeQueueMessage}. */
export function decodeQueueMessage<T>(text: string): T {
  return JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as T;
}

/** Sends jobs to one storage queue, creating it on first use. */
export class StorageJobQueue<T> implements JobQueue<T> {
  private created?: Promise<void>;

  /** @param queue - the queue client */
  constructor(private readonly queue: QueueClient) {}

  /** Sends one job, invisible for `delaySeconds` when given. */
  async send(job: T, options: { delaySeconds?: number } = {}): Promise<void> {
    const text = queueMessageText(job);
    const delay =
      options.delaySeconds === undefined
        ? undefined
        : Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(options.delaySeconds)));
    await this.ensureQueue();
    try {
      await this.queue.sendMessage(text, delay ? { visibilityTimeout: delay } : {});
    } catch (error) {
      throw storageError(error, `send to queue ${this.queue.name}`);
    }
  }

  private ensureQueue(): Promise<void> {
    this.created ??= this.queue.createIfNotExists().then(
      () => undefined,
      (error: unknown) => {
        this.created = undefined;
        throw storageError(error, `create queue ${this.queue.name}`);
      },
    );
    return this.created;
  }
}
