/**
 * The alert outbox on the state container (mutable, not WORM):
 *
 * ```
 * outbox/pending/<id>.json                         alerts not yet delivered to every sink (updated with etags)
 * outbox/seen/<id>.json                            one marker per alert ever recorded: the de-duplication record
 * outbox/history/<inverted-ms finished>-<id>.json  delivered or parked alerts, newest first
 * ```
 *
 * Recording writes the pending entry create-only first, then the marker: a process that dies in between leaves a
 * pending entry (delivered later, and its marker written when it finishes), never a marker without an alert.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { KvGuardError } from '../core/errors';
import type { AlertOutbox, OutboxEntry, StoredOutboxEntry } from '../core/ports';
import { containerCreator, readAll } from './blob-backup-store';
import { invertedTimestamp } from './blob-layout';
import { storageError, storageStatus } from './storage-errors';

/** Folders of the outbox inside the state container. */
export const OUTBOX_FOLDERS = {
  pending: 'outbox/pending/',
  seen: 'outbox/seen/',
  history: 'outbox/history/',
} as const;

const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,100}$/;

/** {@link AlertOutbox} on a blob container. */
export class BlobAlertOutbox implements AlertOutbox {
  private readonly ensureContainer: () => Promise<void>;

  /**
   * @param container - the state container (created private if missing)
   * @param createContainer - false when the container must already exist (see `KVGUARD_CREATE_CONTAINERS`)
   */
  constructor(
    private readonly container: ContainerClient,
    createContainer = true,
  ) {
    this.ensureContainer = containerCreator(container, createContainer);
  }

  /** Records the entry create-only; undefined when the alert was recorded before. */
  async record(entry: OutboxEntry): Promise<string | undefined> {
    const pending = pendingName(entry.id);
    const etag = await this.create(pending, entry);
    if (etag === undefined) return undefined;
    if ((await this.create(seenName(entry.id), { recordedAt: entry.recordedAt })) === undefined) {
      // Recorded (and perhaps delivered) long ago: this copy must not be delivered again.
      await this.remove(pending, etag);
      return undefined;
    }
    return etag;
  }

  /** The pending entry with this id, if any. */
  async readPending(id: string): Promise<StoredOutboxEntry | undefined> {
    return this.read(pendingName(id));
  }

  /** Pending entries, oldest recorded first. */
  async pending(limit: number): Promise<StoredOutboxEntry[]> {
    const found: StoredOutboxEntry[] = [];
    for (const name of await this.names(OUTBOX_FOLDERS.pending, limit)) {
      const stored = await this.read(name);
      if (stored) found.push(stored);
    }
    return found.sort((a, b) => a.entry.recordedAt.localeCompare(b.entry.recordedAt));
  }

  /** Replaces a pending entry if its etag still matches. */
  async update(entry: OutboxEntry, etag: string): Promise<string> {
    await this.ensureContainer();
    const body = Buffer.from(JSON.stringify(entry), 'utf8');
    try {
      const response = await this.container.getBlockBlobClient(pendingName(entry.id)).upload(body, body.byteLength, {
        conditions: { ifMatch: etag },
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
      return response.etag!;
    } catch (error) {
      const status = storageStatus(error);
      if (status === 412 || status === 409 || status === 404) {
        throw new KvGuardError('Conflict', `outbox entry ${entry.id} changed since it was read`, {
          statusCode: status,
          cause: error,
        });
      }
      throw storageError(error, `write ${pendingName(entry.id)}`);
    }
  }

  /** Writes the history entry and the marker, then removes the pending entry. */
  async finish(entry: OutboxEntry): Promise<void> {
    const finishedAt = new Date(entry.finishedAt ?? entry.recordedAt);
    await this.create(`${OUTBOX_FOLDERS.history}${invertedTimestamp(finishedAt)}-${checkedId(entry.id)}.json`, entry);
    await this.create(seenName(entry.id), { recordedAt: entry.recordedAt });
    await this.remove(pendingName(entry.id));
  }

  /** Pending entries, then the history newest first. */
  async recent(limit: number): Promise<OutboxEntry[]> {
    const open = (await this.pending(limit)).map((s) => s.entry);
    const done: OutboxEntry[] = [];
    for (const name of await this.names(OUTBOX_FOLDERS.history, limit - open.length)) {
      const stored = await this.read(name);
      if (stored) done.push(stored.entry);
    }
    return [...open, ...done];
  }

  /** Creates a JSON blob create-only; undefined when the name is taken. */
  private async create(name: string, value: unknown): Promise<string | undefined> {
    await this.ensureContainer();
    const body = Buffer.from(JSON.stringify(value), 'utf8');
    try {
      const response = await this.container.getBlockBlobClient(name).upload(body, body.byteLength, {
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
      return response.etag!;
    } catch (error) {
      const status = storageStatus(error);
      if (status === 409 || status === 412) return undefined;
      throw storageError(error, `write ${name}`);
    }
  }

  private async read(name: string): Promise<StoredOutboxEntry | undefined> {
    await this.ensureContainer();
    try {
      const response = await this.container.getBlobClient(name).download();
      const entry = JSON.parse((await readAll(response.readableStreamBody)).toString('utf8')) as OutboxEntry;
      return { entry, etag: response.etag! };
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      throw storageError(error, `read ${name}`);
    }
  }

  private async remove(name: string, etag?: string): Promise<void> {
    try {
      await this.container.getBlobClient(name).delete({ conditions: etag ? { ifMatch: etag } : undefined });
    } catch (error) {
      if (storageStatus(error) === 404 || storageStatus(error) === 412) return;
      throw storageError(error, `delete ${name}`);
    }
  }

  /** Up to `limit` blob names under a folder, in listing order (one page). */
  private async names(prefix: string, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    await this.ensureContainer();
    try {
      const page = await this.container.listBlobsFlat({ prefix }).byPage({ maxPageSize: limit }).next();
      return page.done ? [] : page.value.segment.blobItems.map((b) => b.name);
    } catch (error) {
      throw storageError(error, `list ${prefix}`);
    }
  }
}

function checkedId(id: string): string {
  if (!ID_PATTERN.test(id)) {
    throw new KvGuardError('ValidationError', `outbox id ${JSON.stringify(id)} cannot be used in a blob name`, {
      field: 'id',
    });
  }
  return id;
}

function pendingName(id: string): string {
  return `${OUTBOX_FOLDERS.pending}${checkedId(id)}.json`;
}

function seenName(id: string): string {
  return `${OUTBOX_FOLDERS.seen}${checkedId(id)}.json`;
}
