import { setTimeout as sleep } from 'node:timers/promises';
import { QueueServiceClient, type DequeuedMessageItem, type QueueClient } from '@azure/storage-queue';
import type { QueueFunctionDefinition } from '../../src/functions/definition';
import { resolveSettingReferences } from '../../src/config';
import { describeError, type InvocationRunner } from './invocation';
import type { HostLogger } from './logger';

/** How queue triggers behave; defaults are the Functions host's (host.json `extensions.queues`). */
export interface QueueTriggerOptions {
  /** Attempts before a message goes to `<queue>-poison` (host default 5). */
  maxDequeueCount: number;
  /** How long a failed message stays invisible before its next attempt (host default 0). */
  visibilityTimeoutSeconds: number;
  /** Messages fetched at once (host default 16, at most 32). */
  batchSize: number;
  /** A new batch is fetched when fewer than this many run (host default batchSize / 2). */
  newBatchThreshold: number;
  /** Longest wait between polls of an empty queue (the host's maxPollingInterval; kept short locally). */
  maxPollingIntervalMs: number;
}

/** How long a received message stays hidden while its invocation runs (the function timeout in host.json). */
const LEASE_SECONDS = 600;
const MIN_POLLING_INTERVAL_MS = 20;

/**
 * Storage Queue triggers against Azurite (or any storage account): polls with backoff, decodes base64 messages
 * (the host's default `messageEncoding`), parses JSON, invokes with `dequeueCount`/`id`/`insertionTime` in
 * `context.triggerMetadata`; success deletes the message; failure makes it visible again after the visibility
 * timeout; after `maxDequeueCount` failed attempts it moves to `<queue>-poison`, as the Functions host does.
 */
export class QueueListener {
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private poisonReady: Promise<unknown> | undefined;
  private readonly stopped: Promise<void>;

  private constructor(
    private readonly definition: QueueFunctionDefinition,
    private readonly queue: QueueClient,
    private readonly poison: QueueClient,
    private readonly options: QueueTriggerOptions,
    private readonly runner: InvocationRunner,
    private readonly logger: HostLogger,
  ) {
    this.stopped = new Promise((resolve) =>
      this.abort.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }

  /** Builds the listener, resolving the queue name and connection from the settings and creating the queue. */
  static async create(
    definition: QueueFunctionDefinition,
    settings: Record<string, string>,
    options: QueueTriggerOptions,
    runner: InvocationRunner,
    logger: HostLogger,
  ): Promise<QueueListener> {
    const where = `queue function ${definition.name}`;
    const queueName = resolveSettingReferences(definition.queueName, settings).toLowerCase();
    if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(queueName))
      throw new Error(`${where}: ${JSON.stringify(queueName)} is not a valid queue name`);
    const settingName = definition.connection || 'AzureWebJobsStorage';
    const connectionString = settings[settingName];
    if (!connectionString) {
      throw new Error(
        `${where}: setting ${settingName} must hold a storage connection string (identity-based connections are not supported locally)`,
      );
    }
    const service = QueueServiceClient.fromConnectionString(connectionString);
    const queue = service.getQueueClient(queueName);
    await queue.createIfNotExists();
    return new QueueListener(definition, queue, service.getQueueClient(`${queueName}-poison`), options, runner, logger);
  }

  /** Name of the queue this listener drains. */
  get queueName(): string {
    return this.queue.name;
  }

  /** Starts polling. */
  start(): void {
    this.loop ??= this.poll();
  }

  /** True when no invocation of this listener runs and the queue holds no message (visible or not). */
  async isDrained(): Promise<boolean> {
    if (this.inFlight.size > 0) return false;
    const { approximateMessagesCount } = await this.queue.getProperties();
    return approximateMessagesCount === 0 && this.inFlight.size === 0;
  }

  /** Stops polling; running invocations finish on their own (the host waits for them with a grace period). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async poll(): Promise<void> {
    let idleDelay = MIN_POLLING_INTERVAL_MS;
    while (!this.abort.signal.aborted) {
      if (this.inFlight.size > this.options.newBatchThreshold) {
        await Promise.race([...this.inFlight, this.stopped]);
        continue;
      }
      let messages: DequeuedMessageItem[];
      try {
        const answer = await this.queue.receiveMessages({
          numberOfMessages: Math.min(this.options.batchSize, 32),
          visibilityTimeout: LEASE_SECONDS,
          abortSignal: this.abort.signal,
        });
        messages = answer.receivedMessageItems;
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.logger.host('warning', `Polling queue '${this.queue.name}' failed: ${describeError(error)}`, {
          function: this.definition.name,
        });
        messages = [];
        idleDelay = this.options.maxPollingIntervalMs;
      }
      if (messages.length === 0) {
        await this.pause(idleDelay);
        idleDelay = Math.min(idleDelay * 2, this.options.maxPollingIntervalMs);
        continue;
      }
      idleDelay = MIN_POLLING_INTERVAL_MS;
      for (const message of messages) this.track(this.process(message));
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) =>
      this.logger.host('error', `Queue message handling failed: ${describeError(error)}`, {
        function: this.definition.name,
      }),
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private async process(message: DequeuedMessageItem): Promise<void> {
    // A message past its attempts (e.g. the host died mid-invocation) goes to poison without another try.
    if (message.dequeueCount > this.options.maxDequeueCount)
      return this.moveToPoison(message, 'it exceeded the dequeue count');
    const payload = decodeMessage(message.messageText);
    if (payload === undefined) return this.moveToPoison(message, 'it is not valid base64');
    const outcome = await this.runner.run(
      this.definition,
      `New queue message detected on '${this.queue.name}'.`,
      (context) => this.definition.handler(payload, context),
      {
        id: message.messageId,
        dequeueCount: message.dequeueCount,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
        popReceipt: message.popReceipt,
        queueTrigger: typeof payload === 'string' ? payload : JSON.stringify(payload),
      },
    );
    if (outcome.ok) {
      await this.queue.deleteMessage(message.messageId, message.popReceipt);
    } else if (message.dequeueCount >= this.options.maxDequeueCount) {
      await this.moveToPoison(message, `it failed ${message.dequeueCount} times`);
    } else {
      await this.queue.updateMessage(
        message.messageId,
        message.popReceipt,
        undefined,
        this.options.visibilityTimeoutSeconds,
      );
    }
  }

  private async moveToPoison(message: DequeuedMessageItem, why: string): Promise<void> {
    this.poisonReady ??= this.poison.createIfNotExists();
    await this.poisonReady;
    await this.poison.sendMessage(message.messageText);
    await this.queue.deleteMessage(message.messageId, message.popReceipt);
    this.logger.host(
      'warning',
      `Message ${message.messageId} moved to poison queue '${this.poison.name}' because ${why}`,
      {
        function: this.definition.name,
      },
    );
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }
}

/** Base64 text → parsed JSON, or the text itself when it is not JSON; undefined when it is not base64. */
export function decodeMessage(messageText: string): unknown {
  const compact = messageText.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return undefined;
  const text = Buffer.from(compact, 'base64').toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Encodes a message the way the Functions host expects it (base64 of the JSON text). */
export function encodeMessage(payload: unknown): string {
  return Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8').toString('base64');
}
