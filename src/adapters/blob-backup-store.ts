/**
 * The catalog on Azure Blob Storage. Blob layout (see `blob-layout.ts` for the naming rules):
 *
 * ```
 * backups/<vault>/<type>/<name lower-case>/<inverted-ms 13 digits>-<fingerprint first 12>.kvbak   the exact bytes Key Vault returned
 * runs/<vault>/<inverted-ms>-<runId>-(<type>-<sequence>|summary|objects).json                     run manifests
 * audit/<yyyy>/<mm>/<dd>/<inverted-ms>-<requestId>.json                                            restore / drill audit
 * ```
 *
 * Inverted timestamps make every prefix listing newest-first, so "latest backup of X" and "latest as of T" are one
 * prefix listing. Backup blobs carry their catalog entry as metadata (vault, type, name, fingerprint, sha256, size,
 * versioncount, takenat, runid, kvguardversion), so listing with metadata is reading the catalog.
 *
 * Beside each backup, `inventory/…` (same path) holds what browse and diff show: the object's versions, attributes
 * and tags, never a value. Backups the retention plan lets go get the blob index tag `kvguard-prunable=true`, which
 * the account's lifecycle rule filters on; that is `BlobPruneMarks`, through an identity of its own.
 *
 * Every write is create-only (`If-None-Match: *`): an existing name answers 409 `BlobAlreadyExists`, which becomes
 * `AlreadyExists`; nothing is ever overwritten or deleted. With `immutability: 'version'` each write also asks for
 * a version-level WORM policy (unlocked, `retentionDays`); Azurite ignores the request, Azure enforces it where the
 * account has version-level immutability enabled.
 */
import type { BlobImmutabilityPolicy, ContainerClient, ListBlobsFlatSegmentResponse } from '@azure/storage-blob';
import type { z } from 'zod';
import { objectInventorySchema, type InventoryStore, type ObjectInventory } from '../core/browse/inventory';
import type { BackupRecord, ManifestHead, ObjectType, Page, RunManifest } from '../core/domain';
import { KvGuardError } from '../core/errors';
import { runManifestSchema } from '../core/manifest-schema';
import {
  silentLogger,
  systemClock,
  type AuditEntry,
  type BackupQuery,
  type BackupStore,
  type Clock,
  type Logger,
  type StateStore,
} from '../core/ports';
import {
  auditBlobName,
  backupBlobName,
  backupMetadata,
  checkBytesMatchRecord,
  compareManifestBlobNames,
  encodeMetadata,
  inventoryBlobName,
  isAuditBlobOf,
  LAYOUT_ROOTS,
  manifestBlobName,
  manifestHeadFromMetadata,
  manifestHeadOf,
  manifestMetadata,
  manifestPrefix,
  matchesBackupQuery,
  parseBackupBlobName,
  prefixesForQuery,
  recordFromMetadata,
  envelopeBlobName,
  parsePortableBlobName,
  portablePrefix,
  snapshotBlobName,
  stateBlobName,
} from './blob-layout';
import { storageCode, storageError, storageStatus } from './storage-errors';
import { portableEnvelopeSchema, type PortableEnvelope, type PortableType } from '../core/portable/envelope';
import {
  portableSnapshotSchema,
  type EnvelopeRef,
  type PortableSnapshot,
  type PortableStore,
  type StoredSnapshot,
} from '../core/portable/portable-store';
import { auditEntrySchema, decodeStoredDocument, encodeStoredDocument, readStoredManifest } from './stored-document';

/** Options of a {@link BlobBackupStore}. */
export interface BlobBackupStoreOptions {
  /** The backup container (created private if missing, unless `createContainer` is false). */
  container: ContainerClient;
  /** Create the container when missing (default true); false where the identity may not (Azure: the infra does). */
  createContainer?: boolean;
  /** `container`: rely on the container's WORM policy; `version`: also ask for a version-level policy per blob. */
  immutability: 'container' | 'version';
  /** Days a version-level policy keeps each blob immutable. */
  retentionDays: number;
  clock?: Clock;
  logger?: Logger;
}

const DAY_MS = 86_400_000;

/** {@link BackupStore} on one blob container, with the backups' inventories and the portable exports. */
export class BlobBackupStore implements BackupStore, InventoryStore, PortableStore {
  private readonly container: ContainerClient;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly ensure: () => Promise<void>;

  /** @param options - container, immutability mode, retention, clock, logger */
  constructor(private readonly options: BlobBackupStoreOptions) {
    this.container = options.container;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.ensure = containerCreator(options.container, options.createContainer ?? true);
  }

  /** Stores the exact bytes under the layout's name, create-only; checks them against the record's hash and size. */
  async putBackup(record: Omit<BackupRecord, 'blobName'>, bytes: Uint8Array): Promise<BackupRecord> {
    checkBytesMatchRecord(record, bytes);
    const blobName = backupBlobName(record);
    await this.createBlob(blobName, bytes, 'application/octet-stream', backupMetadata(record));
    return { ...record, blobName };
  }

  /** The newest backup of one object, optionally the newest taken at or before `asOf`. */
  async latestBackup(vault: string, type: ObjectType, name: string, asOf?: Date): Promise<BackupRecord | undefined> {
    for await (const record of this.listBackups({ vault, type, name, asOf })) return record;
    return undefined;
  }

  /** Catalog entries matching the query, in listing order: grouped by object, newest first within each. */
  async *listBackups(query: BackupQuery): AsyncIterable<BackupRecord> {
    await this.ensureContainer();
    for (const prefix of prefixesForQuery(query)) {
      try {
        for await (const blob of this.container.listBlobsFlat({ prefix, includeMetadata: true })) {
          const parsed = parseBackupBlobName(blob.name);
          if (!parsed || (query.asOf && parsed.takenAt.getTime() > query.asOf.getTime())) continue;
          const record = this.readRecord(blob.name, blob.metadata);
          if (record && matchesBackupQuery(record, query)) yield record;
        }
      } catch (error) {
        throw storageError(error, `list ${prefix}`);
      }
    }
  }

  /** The bytes and catalog entry of one backup blob; `NotFound` when it does not exist. */
  async readBackup(blobName: string): Promise<{ record: BackupRecord; bytes: Uint8Array }> {
    const { bytes, metadata } = await this.download(blobName);
    return { record: recordFromMetadata(blobName, metadata), bytes };
  }

  /** Stores a run manifest (create-only); answers its blob name. */
  async putManifest(manifest: RunManifest): Promise<string> {
    const blobName = manifestBlobName(manifest);
    await this.createBlob(
      blobName,
      Buffer.from(JSON.stringify(manifest), 'utf8'),
      'application/json',
      manifestMetadata(manifest),
    );
    return blobName;
  }

  /** One page of a vault's manifest heads, newest first, from the listing's metadata. */
  async listManifestHeads(
    vault: string,
    options: { continuationToken?: string; pageSize?: number } = {},
  ): Promise<Page<ManifestHead>> {
    await this.ensureContainer();
    const prefix = manifestPrefix(vault);
    let page: ListBlobsFlatSegmentResponse | undefined;
    try {
      const pages = this.container
        .listBlobsFlat({ prefix, includeMetadata: true })
        .byPage({ continuationToken: options.continuationToken, maxPageSize: options.pageSize ?? 1000 });
      const next = await pages.next();
      page = next.done ? undefined : next.value;
    } catch (error) {
      throw storageError(error, `list ${prefix}`);
    }
    const items: ManifestHead[] = [];
    for (const blob of page?.segment.blobItems ?? []) {
      // Manifests written before heads existed carry no such metadata: they are read once here.
      items.push(
        manifestHeadFromMetadata(blob.name, blob.metadata) ??
          manifestHeadOf(blob.name, await this.readManifest(blob.name)),
      );
    }
    return { items, ...(page?.continuationToken ? { continuationToken: page.continuationToken } : {}) };
  }

  /** The vaults with a folder under `runs/`. */
  async listManifestVaults(): Promise<string[]> {
    await this.ensureContainer();
    const vaults: string[] = [];
    try {
      for await (const item of this.container.listBlobsByHierarchy('/', { prefix: manifestPrefix() })) {
        if (item.kind === 'prefix') vaults.push(item.name.slice(manifestPrefix().length).replace(/\/$/, ''));
      }
    } catch (error) {
      throw storageError(error, `list ${manifestPrefix()}`);
    }
    return vaults;
  }

  /** One manifest by blob name. */
  async readManifest(blobName: string): Promise<RunManifest> {
    const { bytes } = await this.download(blobName);
    return decodeStoredDocument(blobName, Buffer.from(bytes).toString('utf8'), runManifestSchema);
  }

  /** Manifests of one vault, or of every vault merged, newest first. */
  async *listManifests(vault?: string): AsyncIterable<RunManifest & { blobName: string }> {
    await this.ensureContainer();
    const names = vault === undefined ? this.mergedManifestNames() : this.blobNames(manifestPrefix(vault));
    for await (const blobName of names) {
      const { bytes } = await this.download(blobName);
      const manifest = readStoredManifest(blobName, bytes, this.logger);
      if (manifest) yield { ...manifest, blobName };
    }
  }

  /** Appends one audit entry (create-only); answers its blob name. */
  async appendAudit(entry: AuditEntry): Promise<string> {
    const blobName = auditBlobName(entry);
    await this.createJson(blobName, entry, { action: entry.action, requestid: entry.requestId });
    return blobName;
  }

  /** Records a backup's inventory beside it (create-only, under the same immutability as the backup). */
  async putInventory(backupBlobName: string, inventory: ObjectInventory): Promise<void> {
    await this.createJson(inventoryBlobName(backupBlobName), inventory, {});
  }

  /** The inventory recorded with a backup; undefined for backups taken before inventories were kept. */
  async readInventory(backupBlobName: string): Promise<ObjectInventory | undefined> {
    try {
      const blobName = inventoryBlobName(backupBlobName);
      const { bytes } = await this.download(blobName);
      return decodeStoredDocument(blobName, Buffer.from(bytes).toString('utf8'), objectInventorySchema);
    } catch (error) {
      if (error instanceof KvGuardError && error.code === 'NotFound') return undefined;
      throw error;
    }
  }

  /** Stores an envelope create-only; its metadata names version, digest and KEK (never any of its content). */
  async putEnvelope(envelope: PortableEnvelope, digest: string): Promise<EnvelopeRef> {
    const blobName = envelopeBlobName(envelope, digest);
    const ref = {
      type: envelope.type,
      objectKey: portablePrefix(envelope.vault, envelope.type, envelope.name),
      version: envelope.version,
      digest,
      keyId: envelope.kek.keyId,
      sealedAt: envelope.sealedAt,
    };
    await this.createJson(blobName, envelope, {
      version: ref.version,
      digest,
      keyid: ref.keyId,
      sealedat: ref.sealedAt,
    });
    return { blobName, ...ref };
  }

  /** Every envelope of one object, from the listing's metadata. */
  async listEnvelopes(vault: string, type?: PortableType, name?: string): Promise<EnvelopeRef[]> {
    await this.ensureContainer();
    const prefix = type && name ? `${portablePrefix(vault, type, name)}envelopes/` : portablePrefix(vault, type);
    const refs: EnvelopeRef[] = [];
    try {
      for await (const blob of this.container.listBlobsFlat({ prefix, includeMetadata: true })) {
        const meta = Object.fromEntries(
          Object.entries(blob.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), decodeURIComponent(v)]),
        );
        const parsed = parsePortableBlobName(blob.name);
        if (parsed?.kind !== 'envelope' || !meta['version'] || !meta['digest'] || !meta['keyid']) continue;
        refs.push({
          blobName: blob.name,
          type: parsed.objectPrefix.split('/')[2] as PortableType,
          objectKey: parsed.objectPrefix,
          version: meta['version'],
          digest: meta['digest'],
          keyId: meta['keyid'],
          sealedAt: meta['sealedat'] ?? '',
        });
      }
    } catch (error) {
      throw storageError(error, `list ${prefix}`);
    }
    return refs;
  }

  /** One envelope, checked against its schema. */
  async readEnvelope(blobName: string): Promise<PortableEnvelope> {
    const { bytes } = await this.download(blobName);
    return decodeStoredDocument(blobName, Buffer.from(bytes).toString('utf8'), portableEnvelopeSchema);
  }

  /** Stores a snapshot create-only; answers its blob name. */
  async putSnapshot(snapshot: PortableSnapshot): Promise<string> {
    const blobName = snapshotBlobName(snapshot);
    await this.createJson(blobName, snapshot, {
      takenat: snapshot.takenAt,
      ...(snapshot.kekId ? { keyid: snapshot.kekId } : {}),
    });
    return blobName;
  }

  /** The newest snapshot of one object (at or before `asOf`). */
  async latestSnapshot(
    vault: string,
    type: PortableType,
    name: string,
    asOf?: Date,
  ): Promise<StoredSnapshot | undefined> {
    return (await this.snapshotsUnder(portablePrefix(vault, type, name), asOf))[0];
  }

  /** The newest snapshot (at or before `asOf`) of each object of a vault. */
  async latestSnapshots(vault: string, options: { type?: PortableType; asOf?: Date } = {}): Promise<StoredSnapshot[]> {
    return this.snapshotsUnder(portablePrefix(vault, options.type), options.asOf);
  }

  /** The newest snapshot at or before `asOf` of each object under a prefix (listing order is newest first). */
  private async snapshotsUnder(prefix: string, asOf?: Date): Promise<StoredSnapshot[]> {
    await this.ensureContainer();
    const chosen = new Map<string, string>();
    try {
      for await (const blob of this.container.listBlobsFlat({ prefix })) {
        const parsed = parsePortableBlobName(blob.name);
        if (parsed?.kind !== 'snapshot' || chosen.has(parsed.objectPrefix)) continue;
        if (asOf && parsed.takenAt.getTime() > asOf.getTime()) continue;
        chosen.set(parsed.objectPrefix, blob.name);
      }
    } catch (error) {
      throw storageError(error, `list ${prefix}`);
    }
    const snapshots: StoredSnapshot[] = [];
    for (const blobName of chosen.values()) {
      const { bytes } = await this.download(blobName);
      snapshots.push({
        ...decodeStoredDocument(blobName, Buffer.from(bytes).toString('utf8'), portableSnapshotSchema),
        blobName,
      });
    }
    return snapshots;
  }

  /** Audit entries newest first: day folders newest first, entries newest first within each. */
  async *listAudit(options: { requestId?: string } = {}): AsyncIterable<AuditEntry & { blobName: string }> {
    await this.ensureContainer();
    for await (const day of this.auditDays()) {
      for await (const blobName of this.blobNames(day)) {
        if (options.requestId !== undefined && !isAuditBlobOf(blobName, options.requestId)) continue;
        const { bytes } = await this.download(blobName);
        yield { ...decodeStoredDocument(blobName, Buffer.from(bytes).toString('utf8'), auditEntrySchema), blobName };
      }
    }
  }

  /** `audit/<yyyy>/<mm>/<dd>/` folders, newest first (three levels of folder listings, no entry read). */
  private async *auditDays(prefix: string = LAYOUT_ROOTS.audit, depth = 3): AsyncGenerator<string> {
    const folders: string[] = [];
    try {
      for await (const item of this.container.listBlobsByHierarchy('/', { prefix })) {
        if (item.kind === 'prefix') folders.push(item.name);
      }
    } catch (error) {
      throw storageError(error, `list ${prefix}`);
    }
    for (const folder of folders.sort().reverse()) {
      if (depth === 1) yield folder;
      else yield* this.auditDays(folder, depth - 1);
    }
  }

  /** Creates the container (private) once per store. */
  async ensureContainer(): Promise<void> {
    return this.ensure();
  }

  private async createJson(blobName: string, value: object, metadata: Record<string, string>): Promise<void> {
    await this.createBlob(blobName, encodeStoredDocument(value), 'application/json', encodeMetadata(metadata));
  }

  /** One Put Blob, create-only, with the immutability policy the configuration asks for. */
  private async createBlob(
    blobName: string,
    bytes: Uint8Array,
    contentType: string,
    metadata: Record<string, string>,
  ): Promise<void> {
    await this.ensureContainer();
    try {
      await this.container.getBlockBlobClient(blobName).upload(bytes, bytes.byteLength, {
        conditions: { ifNoneMatch: '*' },
        metadata,
        blobHTTPHeaders: { blobContentType: contentType },
        immutabilityPolicy: this.immutabilityPolicy(),
      });
    } catch (error) {
      const status = storageStatus(error);
      // Azure answers 409 BlobAlreadyExists to `If-None-Match: *` on an existing name; 412 is the generic form.
      if (status === 409 || status === 412) {
        throw new KvGuardError(
          'AlreadyExists',
          `blob ${JSON.stringify(blobName)} already exists; kvguard never overwrites`,
          {
            serviceCode: storageCode(error),
            statusCode: status,
            cause: error,
          },
        );
      }
      throw storageError(error, `write ${blobName}`);
    }
  }

  private immutabilityPolicy(): BlobImmutabilityPolicy | undefined {
    if (this.options.immutability !== 'version') return undefined;
    return {
      expiriesOn: new Date(this.clock.now().getTime() + this.options.retentionDays * DAY_MS),
      policyMode: 'Unlocked',
    };
  }

  private readRecord(blobName: string, metadata: Record<string, string> | undefined): BackupRecord | undefined {
    try {
      return recordFromMetadata(blobName, metadata);
    } catch (error) {
      // One damaged entry must not hide the rest of the catalog; it is reported and skipped.
      this.logger.warn('Backup blob without a readable catalog entry skipped', {
        blobName,
        reason: (error as Error).message,
      });
      return undefined;
    }
  }

  private async download(
    blobName: string,
  ): Promise<{ bytes: Uint8Array; metadata: Record<string, string> | undefined }> {
    try {
      const response = await this.container.getBlobClient(blobName).download();
      return { bytes: new Uint8Array(await readAll(response.readableStreamBody)), metadata: response.metadata };
    } catch (error) {
      const classified = storageError(error, `read ${blobName}`);
      if (classified.code === 'NotFound') {
        throw new KvGuardError('NotFound', `blob ${JSON.stringify(blobName)} does not exist`, {
          serviceCode: classified.serviceCode,
          statusCode: 404,
          cause: error,
        });
      }
      throw classified;
    }
  }

  private async *blobNames(prefix: string): AsyncGenerator<string> {
    try {
      for await (const blob of this.container.listBlobsFlat({ prefix })) yield blob.name;
    } catch (error) {
      throw storageError(error, `list ${prefix}`);
    }
  }

  /** Every vault's manifests merged newest-first; each vault's listing is already newest-first. */
  private async *mergedManifestNames(): AsyncGenerator<string> {
    const vaultPrefixes: string[] = [];
    try {
      for await (const item of this.container.listBlobsByHierarchy('/', { prefix: manifestPrefix() })) {
        if (item.kind === 'prefix') vaultPrefixes.push(item.name);
      }
    } catch (error) {
      throw storageError(error, `list ${manifestPrefix()}`);
    }
    const streams = vaultPrefixes.map((prefix) => this.blobNames(prefix));
    const heads = await Promise.all(streams.map((s) => s.next()));
    for (;;) {
      let best = -1;
      heads.forEach((head, i) => {
        if (
          !head.done &&
          (best < 0 || compareManifestBlobNames(head.value, (heads[best] as IteratorYieldResult<string>).value) < 0)
        )
          best = i;
      });
      if (best < 0) return;
      yield (heads[best] as IteratorYieldResult<string>).value;
      heads[best] = await streams[best]!.next();
    }
  }
}

/** Options of a {@link BlobStateStore}. */
export interface BlobStateStoreOptions {
  /** The state container (created private if missing, unless `createContainer` is false). */
  container: ContainerClient;
  /** Create the container when missing (default true). */
  createContainer?: boolean;
}

/** {@link StateStore} on JSON blobs (`<key>.json`) with etag conditions. */
export class BlobStateStore implements StateStore {
  private readonly ensureContainer: () => Promise<void>;

  /** @param options - the state container */
  constructor(private readonly options: BlobStateStoreOptions) {
    this.ensureContainer = containerCreator(options.container, options.createContainer ?? true);
  }

  /** Reads a document and checks it against `schema`; undefined when it does not exist. */
  async read<T>(key: string, schema: z.ZodType<T>): Promise<{ value: T; etag: string } | undefined> {
    await this.ensureContainer();
    const blob = this.blob(key);
    let text: string;
    let etag: string;
    try {
      const response = await blob.download();
      text = (await readAll(response.readableStreamBody)).toString('utf8');
      etag = response.etag!;
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      throw storageError(error, `read state ${key}`);
    }
    return { value: decodeStoredDocument(blob.name, text, schema), etag };
  }

  /** Writes a document; with `etag` only if unchanged, with `etag: null` only if absent; `Conflict` otherwise. */
  async write<T extends object>(key: string, value: T, options: { etag?: string | null } = {}): Promise<void> {
    await this.ensureContainer();
    const conditions =
      options.etag === null ? { ifNoneMatch: '*' } : options.etag !== undefined ? { ifMatch: options.etag } : undefined;
    const body = encodeStoredDocument(value);
    try {
      await this.blob(key).upload(body, body.byteLength, {
        conditions,
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
    } catch (error) {
      const status = storageStatus(error);
      const lostRace =
        status === 409 || status === 412 || (status === 404 && options.etag !== undefined && options.etag !== null);
      if (lostRace) {
        throw new KvGuardError('Conflict', `state ${JSON.stringify(key)} changed since it was read`, {
          serviceCode: storageCode(error),
          statusCode: status,
          cause: error,
        });
      }
      throw storageError(error, `write state ${key}`);
    }
  }

  private blob(key: string) {
    return this.options.container.getBlockBlobClient(stateBlobName(key));
  }
}

/**
 * Creates a container (private: no public access) on first call; a failure lets the next call try again. With
 * `create` false it does nothing: the container must exist, and a missing one surfaces as the first call's error.
 */
export function containerCreator(container: ContainerClient, create = true): () => Promise<void> {
  let created: Promise<void> | undefined;
  if (!create) return async () => undefined;
  return () => {
    created ??= container.createIfNotExists().then(
      () => undefined,
      (error: unknown) => {
        created = undefined;
        throw storageError(error, `create container ${container.containerName}`);
      },
    );
    return created;
  };
}

/** Reads a download stream to the end. */
export async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream ?? []) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}
