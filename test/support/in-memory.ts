/**
 * In-memory implementations of the core's ports, for use-case tests. They follow the contracts the real adapters
 * keep (Key Vault's name rules, create-only storage, etag conditions) so a use case that passes here behaves the
 * same against the emulator and Azurite. Failures are injected per call with `failNext` / `failWhen`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
  backupBlobName,
  auditBlobName,
  checkBytesMatchRecord,
  compareManifestBlobNames,
  isAuditBlobOf,
  manifestBlobName,
  manifestHeadOf,
  manifestPrefix,
  matchesBackupQuery,
  prefixesForQuery,
  stateBlobName,
} from '../../src/adapters/blob-layout';
import type {
  BackupRecord,
  CertificatePolicyState,
  DeletedObject,
  ManifestHead,
  NameState,
  ObjectSummary,
  ObjectType,
  ObjectVersion,
  Page,
  RunManifest,
} from '../../src/core/domain';
import { queueMessageText } from '../../src/adapters/storage-queue';
import {
  auditEntrySchema,
  decodeStoredDocument,
  encodeStoredDocument,
  readStoredManifest,
} from '../../src/adapters/stored-document';
import { runManifestSchema } from '../../src/core/manifest-schema';
import { createAlerts } from '../../src/core/alerts';
import type { InventoryStore, ObjectInventory } from '../../src/core/browse/inventory';
import type { PruneMarks } from '../../src/core/retention/marks';
import { KvGuardError, type ErrorCode } from '../../src/core/errors';
import type {
  Alert,
  AlertOutbox,
  AlertReceipt,
  AlertSink,
  Alerts,
  AuditEntry,
  BackupQuery,
  BackupStore,
  Clock,
  JobQueue,
  Logger,
  OpenVaultOptions,
  OutboxEntry,
  StateStore,
  StoredOutboxEntry,
  Telemetry,
  VaultPort,
  VaultPortFactory,
} from '../../src/core/ports';
import { silentLogger } from '../../src/core/ports';

// ---------------------------------------------------------------------------------------------------------------
// Clock, telemetry, logger
// ---------------------------------------------------------------------------------------------------------------

/** A clock that moves only when told; `sleep` advances it and resolves at once. */
export class ManualClock implements Clock {
  private current: number;
  /** Every `sleep` duration asked for, in order. */
  readonly slept: number[] = [];

  /** @param start - the initial instant (default 2025-01-01T00:00:00Z) */
  constructor(start: Date | string = '2025-01-01T00:00:00.000Z') {
    this.current = new Date(start).getTime();
  }

  /** The current instant. */
  now(): Date {
    return new Date(this.current);
  }

  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.current += ms;
  }

  /** Sets the current instant. */
  set(at: Date | string): void {
    this.current = new Date(at).getTime();
  }

  /** Advances time by `ms` and resolves on the next microtask. */
  async sleep(ms: number): Promise<void> {
    this.slept.push(ms);
    this.current += Math.max(0, ms);
    await Promise.resolve();
  }
}

/** Telemetry that keeps everything it is given. */
export class RecordingTelemetry implements Telemetry {
  readonly events: { name: string; properties: Record<string, string>; measurements: Record<string, number> }[] = [];
  readonly metrics: { name: string; value: number; properties: Record<string, string> }[] = [];

  /** Records an event. */
  event(name: string, properties: Record<string, string> = {}, measurements: Record<string, number> = {}): void {
    this.events.push({ name, properties, measurements });
  }

  /** Records a metric value. */
  metric(name: string, value: number, properties: Record<string, string> = {}): void {
    this.metrics.push({ name, value, properties });
  }

  /** Events of one name. */
  eventsNamed(name: string): RecordingTelemetry['events'] {
    return this.events.filter((e) => e.name === name);
  }

  /** Values recorded for one metric name. */
  metricValues(name: string): number[] {
    return this.metrics.filter((m) => m.name === name).map((m) => m.value);
  }
}

/** One recorded log line. */
export interface LogRecord {
  level: 'info' | 'warn' | 'error';
  message: string;
  properties: Record<string, unknown>;
}

/** A logger that keeps every line. */
export class RecordingLogger implements Logger {
  readonly records: LogRecord[] = [];

  /** Records an info line. */
  info(message: string, properties: Record<string, unknown> = {}): void {
    this.records.push({ level: 'info', message, properties });
  }

  /** Records a warning. */
  warn(message: string, properties: Record<string, unknown> = {}): void {
    this.records.push({ level: 'warn', message, properties });
  }

  /** Records an error. */
  error(message: string, properties: Record<string, unknown> = {}): void {
    this.records.push({ level: 'error', message, properties });
  }

  /** Messages of one level (or all). */
  messages(level?: LogRecord['level']): string[] {
    return this.records.filter((r) => level === undefined || r.level === level).map((r) => r.message);
  }

  /** Everything logged, as one string: handy to assert that a secret never appears. */
  text(): string {
    return this.records.map((r) => `${r.level} ${r.message} ${JSON.stringify(r.properties)}`).join('\n');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Failure injection
// ---------------------------------------------------------------------------------------------------------------

type ErrorFactory = Error | (() => Error);

/** A KvGuardError as the real adapter would throw it. */
export function kvError(
  code: ErrorCode,
  message: string = code,
  options: { serviceCode?: string; statusCode?: number; retryAfterSeconds?: number } = {},
): KvGuardError {
  return new KvGuardError(code, message, options);
}

interface FailureRule<M extends string> {
  method: M;
  error: ErrorFactory;
  remaining: number;
  when?: (args: unknown[]) => boolean;
}

/** Per-method failure rules shared by the fakes. */
class FailurePlan<M extends string> {
  private rules: FailureRule<M>[] = [];

  next(method: M, error: ErrorFactory, times: number): void {
    this.rules.push({ method, error, remaining: times });
  }

  when(method: M, predicate: (args: unknown[]) => boolean, error: ErrorFactory, times: number): void {
    this.rules.push({ method, error, remaining: times, when: predicate });
  }

  clear(): void {
    this.rules = [];
  }

  /** Throws the first matching rule's error, consuming one of its uses. */
  check(method: M, args: unknown[]): void {
    const rule = this.rules.find((r) => r.method === method && r.remaining > 0 && (!r.when || r.when(args)));
    if (!rule) return;
    rule.remaining -= 1;
    throw typeof rule.error === 'function' ? rule.error() : rule.error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Vault
// ---------------------------------------------------------------------------------------------------------------

/** One version of a fake object (no secret material). */
interface FakeVersion {
  version: string;
  createdOn: Date;
  updatedOn: Date;
  enabled: boolean;
}

/** A fake Key Vault object with all its versions. */
interface FakeObject {
  type: ObjectType;
  name: string;
  tags: Record<string, string>;
  managed: boolean;
  versions: FakeVersion[];
  contentType?: string;
  /** A certificate's policy (ISO time, so it survives the backup's JSON round trip). */
  policy?: { updated: string; content: Record<string, unknown> };
  deletedOn?: Date;
  scheduledPurgeDate?: Date;
}

/** Options for seeding an object. */
export interface SeedOptions {
  /** How many versions (default 1). */
  versions?: number;
  tags?: Record<string, string>;
  enabled?: boolean;
  /** Seed it soft-deleted. */
  deleted?: boolean;
  /** A secret's content type. */
  contentType?: string;
}

/** Methods of {@link VaultPort} that can be made to fail. */
export type VaultMethod =
  | 'listObjects'
  | 'listVersions'
  | 'certificatePolicy'
  | 'backup'
  | 'restore'
  | 'nameState'
  | 'listDeleted'
  | 'recover'
  | 'purge'
  | 'delete';

/** Options of an {@link InMemoryVault}. */
export interface InMemoryVaultOptions {
  /** Clock for timestamps (default the system clock's time, frozen per call). */
  clock?: Clock;
  /** Default listing page size (Key Vault's maximum is 25). */
  pageSize?: number;
  /** Days a deleted object stays recoverable (Key Vault default 90). */
  retentionDays?: number;
  /** With purge protection, purge answers Forbidden like Key Vault. */
  purgeProtection?: boolean;
}

/** The payload the fake's opaque backup bytes carry. */
interface FakeBackupPayload {
  format: 'kvguard-fake-backup';
  salt: string;
  sourceVault: string;
  object: Omit<FakeObject, 'deletedOn' | 'scheduledPurgeDate'>;
  managed?: Omit<FakeObject, 'deletedOn' | 'scheduledPurgeDate'>[];
}

const MAX_PAGE_SIZE = 25;
const FAKE_BACKUP_MAGIC = 'KVFAKE1:';

/**
 * A Key Vault in memory: objects with versions, soft-delete, recover, purge, backup/restore with opaque bytes,
 * paging, and injectable failures. A certificate owns a managed key and secret of the same name, as in Key Vault.
 */
export class InMemoryVault implements VaultPort {
  readonly url: string;
  readonly name: string;
  private readonly objects = new Map<string, FakeObject>();
  private readonly failures = new FailurePlan<VaultMethod>();
  private readonly clock?: Clock;
  private readonly pageSize: number;
  private readonly retentionDays: number;
  private readonly purgeProtection: boolean;
  private inFlight = 0;
  private peakInFlight = 0;
  private throttledCount = 0;
  /** Every call made, in order (method and arguments; backup bytes are not kept). */
  readonly calls: { method: VaultMethod; args: unknown[] }[] = [];

  /**
   * @param url - vault URL (a trailing slash is added)
   * @param options - clock, page size, retention, purge protection
   */
  constructor(url = 'https://demo.vault.azure.net/', options: InMemoryVaultOptions = {}) {
    this.url = url.endsWith('/') ? url : `${url}/`;
    this.name = new URL(this.url).hostname.split('.')[0]!.toLowerCase();
    this.clock = options.clock;
    this.pageSize = options.pageSize ?? MAX_PAGE_SIZE;
    this.retentionDays = options.retentionDays ?? 90;
    this.purgeProtection = options.purgeProtection ?? false;
  }

  // -- test controls -----------------------------------------------------------------------------------------------

  /** Makes the next `times` calls of `method` throw `error` (a KvGuardError, as the real adapter throws). */
  failNext(method: VaultMethod, error: ErrorFactory, times = 1): this {
    this.failures.next(method, error, times);
    return this;
  }

  /** Makes calls of `method` whose arguments match throw `error` (`times` defaults to always). */
  failWhen(
    method: VaultMethod,
    predicate: (args: unknown[]) => boolean,
    error: ErrorFactory,
    times = Number.POSITIVE_INFINITY,
  ): this {
    this.failures.when(method, predicate, error, times);
    return this;
  }

  /** Removes every injected failure. */
  clearFailures(): void {
    this.failures.clear();
  }

  /** Number of calls of one method so far. */
  callCount(method: VaultMethod): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  /** Creates a live object with `versions` versions (a certificate also gets its managed key and secret). */
  seed(type: ObjectType, name: string, options: SeedOptions = {}): this {
    if (this.objects.has(key(type, name))) throw new Error(`seed: ${type} ${name} already exists`);
    const count = options.versions ?? 1;
    const versions: FakeVersion[] = [];
    for (let i = 0; i < count; i++) versions.push(this.newVersion(options.enabled ?? true));
    const object: FakeObject = {
      type,
      name,
      tags: { ...(options.tags ?? {}) },
      managed: false,
      versions,
      ...(options.contentType ? { contentType: options.contentType } : {}),
    };
    if (type === 'certificate')
      object.policy = { updated: this.now().toISOString(), content: { x509_props: { subject: `CN=${name}` } } };
    this.objects.set(key(type, name), object);
    if (type === 'certificate') {
      for (const managedType of ['key', 'secret'] as const) {
        this.objects.set(key(managedType, name), { ...cloneObject(object), type: managedType, managed: true });
      }
    }
    if (options.deleted) this.markDeleted(object);
    return this;
  }

  /** Creates a live key. */
  seedKey(name: string, options: SeedOptions = {}): this {
    return this.seed('key', name, options);
  }

  /** Creates a live secret. */
  seedSecret(name: string, options: SeedOptions = {}): this {
    return this.seed('secret', name, options);
  }

  /** Creates a live certificate (with its managed key and secret). */
  seedCertificate(name: string, options: SeedOptions = {}): this {
    return this.seed('certificate', name, options);
  }

  /** Adds a new version to a live object (what rotating a key or setting a secret does). Answers the version id. */
  addVersion(type: ObjectType, name: string, options: { enabled?: boolean } = {}): string {
    const object = this.liveObject(type, name);
    const version = this.newVersion(options.enabled ?? true);
    for (const o of this.withManaged(object)) o.versions.push({ ...version });
    return version.version;
  }

  /** Replaces the tags of a live object (updates its newest version's timestamp, as Key Vault does). */
  setTags(type: ObjectType, name: string, tags: Record<string, string>): void {
    const object = this.liveObject(type, name);
    object.tags = { ...tags };
    const newest = object.versions[object.versions.length - 1]!;
    newest.updatedOn = this.now();
  }

  /** Changes a live certificate's policy: moves the policy's `updated` time, not any version's (as Key Vault does). */
  setPolicy(name: string, content: Record<string, unknown>): void {
    this.liveObject('certificate', name).policy = { updated: this.now().toISOString(), content: { ...content } };
  }

  /** A snapshot of one object (live or deleted), or undefined. */
  inspect(
    type: ObjectType,
    name: string,
  ): (ObjectSummary & { versions: ObjectVersion[]; deleted: boolean }) | undefined {
    const object = this.objects.get(key(type, name));
    if (!object) return undefined;
    return {
      ...summarise(object),
      versions: object.versions.map((v) => toObjectVersion(v, object)),
      deleted: object.deletedOn !== undefined,
    };
  }

  /** Names of the live, unmanaged objects of a type, in listing order. */
  liveNames(type: ObjectType): string[] {
    return this.sorted(type, false).map((o) => o.name);
  }

  // -- VaultPort ---------------------------------------------------------------------------------------------------

  /** One page of the live objects of a type (managed ones included, flagged, as Key Vault lists them). */
  async listObjects(
    type: ObjectType,
    options: { continuationToken?: string; pageSize?: number } = {},
  ): Promise<Page<ObjectSummary>> {
    return this.call('listObjects', [type, options], () => {
      const all = this.sorted(type, false);
      const start = options.continuationToken === undefined ? 0 : parseToken(options.continuationToken);
      const size = Math.min(options.pageSize ?? this.pageSize, MAX_PAGE_SIZE);
      const items = all.slice(start, start + size).map(summarise);
      const next = start + size;
      return next < all.length ? { items, continuationToken: makeToken(next) } : { items };
    });
  }

  /** Every version of a live object. */
  /** The versions of a live object, as the port answers them. */
  private liveObjectVersions(type: ObjectType, name: string): ObjectVersion[] {
    const object = this.liveObject(type, name);
    return object.versions.map((v) => toObjectVersion(v, object));
  }

  async listVersions(type: ObjectType, name: string): Promise<ObjectVersion[]> {
    return this.call('listVersions', [type, name], () => this.liveObjectVersions(type, name));
  }

  /** A live certificate's policy. */
  async certificatePolicy(name: string): Promise<CertificatePolicyState> {
    return this.call('certificatePolicy', [name], () => {
      const policy = this.liveObject('certificate', name).policy ?? { updated: '', content: {} };
      return { updatedOn: policy.updated ? new Date(policy.updated) : undefined, content: { ...policy.content } };
    });
  }

  /** Opaque bytes: the object as JSON with a random salt (two backups of one object differ, like Key Vault's). */
  async backup(type: ObjectType, name: string): Promise<Uint8Array> {
    return this.call('backup', [type, name], () => {
      const object = this.liveObject(type, name);
      if (object.versions.length > 500) {
        throw kvError(
          'TooManyVersions',
          `${type} ${name} has ${object.versions.length} versions; Key Vault backs up at most 500`,
          {
            serviceCode: 'BadParameter',
            statusCode: 400,
          },
        );
      }
      const managed =
        type === 'certificate'
          ? (['key', 'secret'] as const).map((t) => this.objects.get(key(t, name))).filter(isDefined)
          : [];
      const payload: FakeBackupPayload = {
        format: 'kvguard-fake-backup',
        salt: randomBytes(16).toString('hex'),
        sourceVault: this.name,
        object: stripDeletion(object),
        managed: managed.map(stripDeletion),
      };
      return new Uint8Array(Buffer.from(FAKE_BACKUP_MAGIC + Buffer.from(JSON.stringify(payload)).toString('base64')));
    });
  }

  /** Restores backup bytes; `Conflict` when the name is live or soft-deleted, `BadRequest` for foreign bytes. */
  async restore(type: ObjectType, backup: Uint8Array): Promise<{ name: string }> {
    return this.call('restore', [type, `<${backup.byteLength} bytes>`], () => {
      const payload = decodeBackup(backup);
      if (!payload || payload.object.type !== type) {
        throw kvError('BadRequest', `backup blob is not a valid ${type} backup`, {
          serviceCode: 'BadParameter',
          statusCode: 400,
        });
      }
      const existing = this.objects.get(key(type, payload.object.name));
      if (existing) {
        const state = existing.deletedOn ? 'soft-deleted' : 'live';
        throw kvError(
          'Conflict',
          `${type} ${payload.object.name} already exists (${state}); recover or purge it first`,
          {
            serviceCode: 'Conflict',
            statusCode: 409,
          },
        );
      }
      for (const o of [payload.object, ...(payload.managed ?? [])])
        this.objects.set(key(o.type, o.name), reviveObject(o));
      return { name: payload.object.name };
    });
  }

  /** Free, live, or soft-deleted. */
  async nameState(type: ObjectType, name: string): Promise<NameState> {
    return this.call('nameState', [type, name], () => {
      const object = this.objects.get(key(type, name));
      return object === undefined ? 'free' : object.deletedOn ? 'deleted' : 'live';
    });
  }

  /** Every soft-deleted, unmanaged object of a type. */
  async listDeleted(type: ObjectType): Promise<DeletedObject[]> {
    return this.call('listDeleted', [type], () =>
      this.sorted(type, true)
        .filter((o) => !o.managed)
        .map((o) => ({
          type,
          name: o.name,
          deletedOn: o.deletedOn,
          scheduledPurgeDate: o.scheduledPurgeDate,
          recoveryId: `${this.url}deleted${type}s/${o.name}`,
        })),
    );
  }

  /** Recovers a soft-deleted object; `NotFound` when it is not soft-deleted. */
  async recover(type: ObjectType, name: string): Promise<void> {
    return this.call('recover', [type, name], () => {
      const object = this.deletedObject(type, name);
      for (const o of this.withManaged(object)) {
        delete o.deletedOn;
        delete o.scheduledPurgeDate;
      }
    });
  }

  /** Purges a soft-deleted object; `Forbidden` under purge protection, `NotFound` when it is not soft-deleted. */
  async purge(type: ObjectType, name: string): Promise<void> {
    return this.call('purge', [type, name], () => {
      const object = this.deletedObject(type, name);
      if (this.purgeProtection) {
        throw kvError('Forbidden', `${type} ${name} cannot be purged: the vault has purge protection`, {
          serviceCode: 'Forbidden',
          statusCode: 403,
        });
      }
      for (const o of this.withManaged(object)) this.objects.delete(key(o.type, o.name));
    });
  }

  /** Soft-deletes a live object; `NotFound` when it is not live. */
  async delete(type: ObjectType, name: string): Promise<void> {
    return this.call('delete', [type, name], () => this.markDeleted(this.liveObject(type, name)));
  }

  /** Injected 429s seen and the highest number of concurrent calls. */
  stats(): { throttled: number; maxConcurrency: number } {
    return { throttled: this.throttledCount, maxConcurrency: this.peakInFlight };
  }

  // -- internals ---------------------------------------------------------------------------------------------------

  private async call<T>(method: VaultMethod, args: unknown[], body: () => T): Promise<T> {
    this.calls.push({ method, args });
    this.inFlight += 1;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      // One microtask hop so concurrent callers really overlap, as they would against a server.
      await Promise.resolve();
      try {
        this.failures.check(method, args);
      } catch (error) {
        if (error instanceof KvGuardError && error.code === 'Throttled') this.throttledCount += 1;
        throw error;
      }
      return body();
    } finally {
      this.inFlight -= 1;
    }
  }

  private now(): Date {
    return this.clock ? this.clock.now() : new Date();
  }

  private newVersion(enabled: boolean): FakeVersion {
    const at = this.now();
    return { version: randomUUID().replace(/-/g, ''), createdOn: at, updatedOn: at, enabled };
  }

  private liveObject(type: ObjectType, name: string): FakeObject {
    const object = this.objects.get(key(type, name));
    if (!object || object.deletedOn) {
      throw kvError('NotFound', `${type} ${name} was not found in vault ${this.name}`, {
        serviceCode: notFoundCode(type),
        statusCode: 404,
      });
    }
    return object;
  }

  private deletedObject(type: ObjectType, name: string): FakeObject {
    const object = this.objects.get(key(type, name));
    if (!object || !object.deletedOn) {
      throw kvError('NotFound', `deleted ${type} ${name} was not found in vault ${this.name}`, {
        serviceCode: notFoundCode(type),
        statusCode: 404,
      });
    }
    return object;
  }

  private withManaged(object: FakeObject): FakeObject[] {
    if (object.type !== 'certificate') return [object];
    const managed = (['key', 'secret'] as const).map((t) => this.objects.get(key(t, object.name))).filter(isDefined);
    return [object, ...managed.filter((o) => o.managed)];
  }

  private markDeleted(object: FakeObject): void {
    const at = this.now();
    for (const o of this.withManaged(object)) {
      o.deletedOn = at;
      o.scheduledPurgeDate = new Date(at.getTime() + this.retentionDays * 86_400_000);
    }
  }

  private sorted(type: ObjectType, deleted: boolean): FakeObject[] {
    return [...this.objects.values()]
      .filter((o) => o.type === type && (o.deletedOn !== undefined) === deleted)
      .sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1));
  }
}

function key(type: ObjectType, name: string): string {
  return `${type}/${name.toLowerCase()}`;
}

function notFoundCode(type: ObjectType): string {
  return type === 'certificate' ? 'CertificateNotFound' : type === 'key' ? 'KeyNotFound' : 'SecretNotFound';
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}

function summarise(object: FakeObject): ObjectSummary {
  const newest = object.versions[object.versions.length - 1];
  return {
    type: object.type,
    name: object.name,
    tags: { ...object.tags },
    enabled: newest?.enabled ?? true,
    managed: object.managed,
    updatedOn: newest ? new Date(newest.updatedOn) : undefined,
    ...(object.contentType ? { contentType: object.contentType } : {}),
  };
}

/** A version as the port lists it; the fake keeps tags and content type per object, so every version shows them. */
function toObjectVersion(version: FakeVersion, object: FakeObject): ObjectVersion {
  return {
    version: version.version,
    createdOn: new Date(version.createdOn),
    updatedOn: new Date(version.updatedOn),
    enabled: version.enabled,
    managed: object.managed,
    tags: { ...object.tags },
    ...(object.contentType ? { contentType: object.contentType } : {}),
  };
}

function cloneObject(object: FakeObject): FakeObject {
  return reviveObject(JSON.parse(JSON.stringify(object)) as FakeObject);
}

function stripDeletion(object: FakeObject): FakeBackupPayload['object'] {
  const { deletedOn: _d, scheduledPurgeDate: _s, ...rest } = cloneObject(object);
  return rest;
}

function reviveObject(object: FakeBackupPayload['object']): FakeObject {
  return {
    ...object,
    tags: { ...object.tags },
    versions: object.versions.map((v) => ({
      ...v,
      createdOn: new Date(v.createdOn),
      updatedOn: new Date(v.updatedOn),
    })),
  };
}

function decodeBackup(bytes: Uint8Array): FakeBackupPayload | undefined {
  const text = Buffer.from(bytes).toString('utf8');
  if (!text.startsWith(FAKE_BACKUP_MAGIC)) return undefined;
  try {
    const payload = JSON.parse(
      Buffer.from(text.slice(FAKE_BACKUP_MAGIC.length), 'base64').toString('utf8'),
    ) as FakeBackupPayload;
    return payload.format === 'kvguard-fake-backup' ? payload : undefined;
  } catch {
    return undefined;
  }
}

function makeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ skip: offset })).toString('base64url');
}

function parseToken(token: string): number {
  try {
    const { skip } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { skip: unknown };
    if (typeof skip === 'number' && Number.isInteger(skip) && skip >= 0) return skip;
  } catch {
    // fall through
  }
  throw kvError('BadRequest', `continuation token ${JSON.stringify(token.slice(0, 40))} is not valid`, {
    serviceCode: 'BadParameter',
    statusCode: 400,
  });
}

/** Seeds several objects at once, e.g. `seedObjects(vault, 'key', ['a', 'b'])` or a count (`key-000` …). */
export function seedObjects(
  vault: InMemoryVault,
  type: ObjectType,
  names: string[] | number,
  options: SeedOptions = {},
): string[] {
  const list =
    typeof names === 'number'
      ? Array.from({ length: names }, (_, i) => `${type}-${String(i).padStart(3, '0')}`)
      : names;
  for (const name of list) vault.seed(type, name, options);
  return list;
}

/** A vault URL for a fake vault name. */
export function fakeVaultUrl(name: string): string {
  return `https://${name}.vault.azure.net/`;
}

/**
 * Opens in-memory vaults by URL. An unknown URL opens a port whose every call fails `NotFound` (the real adapter
 * fails on first use too, not on open); `forbid(url)` makes a vault answer `Forbidden`.
 */
export class InMemoryVaultFactory implements VaultPortFactory {
  private readonly vaults = new Map<string, InMemoryVault>();
  private readonly forbidden = new Set<string>();
  /** Every open, with its options (to assert deadlines were passed). */
  readonly opened: { url: string; options?: OpenVaultOptions }[] = [];

  /** @param vaults - vaults to serve */
  constructor(...vaults: InMemoryVault[]) {
    for (const v of vaults) this.add(v);
  }

  /** Serves a vault. */
  add(vault: InMemoryVault): InMemoryVault {
    this.vaults.set(normalise(vault.url), vault);
    return vault;
  }

  /** Creates and serves an empty vault (by name or URL). */
  create(nameOrUrl: string, options: InMemoryVaultOptions = {}): InMemoryVault {
    const url = nameOrUrl.includes('://') ? nameOrUrl : fakeVaultUrl(nameOrUrl);
    return this.add(new InMemoryVault(url, options));
  }

  /** The vault served at a URL. */
  vault(url: string): InMemoryVault | undefined {
    return this.vaults.get(normalise(url));
  }

  /** Every call to the vault at `url` will answer Forbidden (a 403: no access policy, firewall). */
  forbid(url: string): void {
    this.forbidden.add(normalise(url));
  }

  /** Opens the vault at `url`. */
  open(url: string, options?: OpenVaultOptions): VaultPort {
    this.opened.push({ url, options });
    const normalised = normalise(url);
    if (this.forbidden.has(normalised)) {
      return failingPort(normalised, () =>
        kvError('Forbidden', `access to vault ${normalised} is forbidden`, {
          serviceCode: 'Forbidden',
          statusCode: 403,
        }),
      );
    }
    const vault = this.vaults.get(normalised);
    if (vault) return vault;
    return failingPort(normalised, () =>
      kvError('NotFound', `vault ${normalised} does not exist or cannot be reached`, { serviceCode: 'ENOTFOUND' }),
    );
  }
}

function normalise(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}/`.toLowerCase();
}

function failingPort(url: string, error: () => KvGuardError): VaultPort {
  const fail = async (): Promise<never> => {
    throw error();
  };
  return {
    url,
    name: new URL(url).hostname.split('.')[0]!,
    listObjects: fail,
    listVersions: fail,
    certificatePolicy: fail,
    backup: fail,
    restore: fail,
    nameState: fail,
    listDeleted: fail,
    recover: fail,
    purge: fail,
    delete: fail,
    stats: () => ({ throttled: 0, maxConcurrency: 0 }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------------------------------

/** Methods of {@link BackupStore} that can be made to fail. */
export type BackupStoreMethod =
  | 'putBackup'
  | 'latestBackup'
  | 'listBackups'
  | 'readBackup'
  | 'putManifest'
  | 'listManifests'
  | 'listManifestHeads'
  | 'readManifest'
  | 'appendAudit'
  | 'listAudit';

/**
 * The catalog in memory, with the blob store's naming (shared from `src/adapters/blob-layout`) and its create-only
 * rule: a second write to a name throws `AlreadyExists` and leaves the first content in place.
 */
export class InMemoryBackupStore implements BackupStore {
  /** Every blob, by name: what the container would hold. */
  readonly blobs = new Map<string, { bytes: Uint8Array; record?: BackupRecord; json?: unknown }>();
  /** What the blob store would cost: list calls (one per listing page) and blobs read (downloads). */
  readonly cost = { listCalls: 0, blobsRead: 0 };
  private readonly failures = new FailurePlan<BackupStoreMethod>();
  private sortedNames: string[] | undefined;

  /** @param logger - where damaged documents are reported (as the blob store reports them) */
  constructor(private readonly logger: Logger = silentLogger) {}

  /** Puts raw bytes under a blob name, as damage or an older kvguard might have left them. */
  plantRaw(blobName: string, text: string): void {
    this.blobs.set(blobName, { bytes: new Uint8Array(Buffer.from(text)) });
    this.sortedNames = undefined;
  }

  /** Makes the next `times` calls of `method` throw. */
  failNext(method: BackupStoreMethod, error: ErrorFactory, times = 1): this {
    this.failures.next(method, error, times);
    return this;
  }

  /** Stores the bytes under the layout's name after the blob store's SHA-256 and size check; `AlreadyExists` when taken. */
  async putBackup(record: Omit<BackupRecord, 'blobName'>, bytes: Uint8Array): Promise<BackupRecord> {
    this.failures.check('putBackup', [record]);
    checkBytesMatchRecord(record, bytes);
    const blobName = backupBlobName(record);
    const stored: BackupRecord = { ...record, takenAt: new Date(record.takenAt), blobName };
    this.create(blobName, { bytes: new Uint8Array(bytes), record: stored });
    return { ...stored };
  }

  /** The newest backup of one object, optionally at or before `asOf`. */
  async latestBackup(vault: string, type: ObjectType, name: string, asOf?: Date): Promise<BackupRecord | undefined> {
    this.failures.check('latestBackup', [vault, type, name, asOf]);
    for await (const record of this.listBackups({ vault, type, name, asOf })) return record;
    return undefined;
  }

  /** Catalog entries in blob-listing order: grouped by object, newest first within each. */
  async *listBackups(query: BackupQuery): AsyncIterable<BackupRecord> {
    this.failures.check('listBackups', [query]);
    for (const prefix of prefixesForQuery(query)) {
      for (const name of this.namesUnder(prefix)) {
        const record = this.blobs.get(name)!.record;
        if (record && matchesBackupQuery(record, query)) yield { ...record, takenAt: new Date(record.takenAt) };
      }
    }
  }

  /** Bytes and catalog entry of one backup; `NotFound` when absent. */
  async readBackup(blobName: string): Promise<{ record: BackupRecord; bytes: Uint8Array }> {
    this.failures.check('readBackup', [blobName]);
    const blob = this.blobs.get(blobName);
    if (!blob?.record)
      throw kvError('NotFound', `backup blob ${JSON.stringify(blobName)} does not exist`, {
        serviceCode: 'BlobNotFound',
        statusCode: 404,
      });
    return { record: { ...blob.record, takenAt: new Date(blob.record.takenAt) }, bytes: new Uint8Array(blob.bytes) };
  }

  /** Stores a manifest (create-only). */
  async putManifest(manifest: RunManifest): Promise<string> {
    this.failures.check('putManifest', [manifest]);
    const blobName = manifestBlobName(manifest);
    this.createJson(blobName, manifest);
    return blobName;
  }

  /** Manifests newest first (across vaults when none is named). */
  async *listManifests(vault?: string): AsyncIterable<RunManifest & { blobName: string }> {
    this.failures.check('listManifests', [vault]);
    const names = this.namesUnder(manifestPrefix(vault)).sort(compareManifestBlobNames);
    for (const blobName of names) {
      const manifest = readStoredManifest(blobName, this.blobs.get(blobName)!.bytes, this.logger);
      if (manifest) yield { ...manifest, blobName };
    }
  }

  /** One page of a vault's manifest heads (the token is the last name of the previous page, as Azure's marker). */
  async listManifestHeads(
    vault: string,
    options: { continuationToken?: string; pageSize?: number } = {},
  ): Promise<Page<ManifestHead>> {
    this.failures.check('listManifestHeads', [vault, options]);
    this.cost.listCalls += 1;
    const after = options.continuationToken;
    const names = this.namesUnder(manifestPrefix(vault)).filter((n) => after === undefined || n > after);
    const page = names.slice(0, options.pageSize ?? 1000);
    const items = page.map((name) => manifestHeadOf(name, this.blobs.get(name)!.json as RunManifest));
    return page.length < names.length ? { items, continuationToken: page.at(-1)! } : { items };
  }

  /** The vaults with manifests. */
  async listManifestVaults(): Promise<string[]> {
    this.cost.listCalls += 1;
    return [...new Set(this.namesUnder(manifestPrefix()).map((n) => n.split('/')[1]!))].sort();
  }

  /** One manifest by blob name; `NotFound` when absent. */
  async readManifest(blobName: string): Promise<RunManifest> {
    this.failures.check('readManifest', [blobName]);
    this.cost.blobsRead += 1;
    const blob = this.blobs.get(blobName);
    if (!blob?.json) throw kvError('NotFound', `blob ${JSON.stringify(blobName)} does not exist`, { statusCode: 404 });
    return decodeStoredDocument(blobName, Buffer.from(blob.bytes).toString('utf8'), runManifestSchema);
  }

  /** Audit entries newest first (day folders newest first). */
  async *listAudit(options: { requestId?: string } = {}): AsyncIterable<AuditEntry & { blobName: string }> {
    this.failures.check('listAudit', [options]);
    const names = this.namesUnder('audit/');
    const day = (n: string) => n.split('/').slice(1, 4).join('/');
    names.sort((a, b) => (day(a) === day(b) ? (a < b ? -1 : 1) : day(a) < day(b) ? 1 : -1));
    for (const blobName of names) {
      if (options.requestId !== undefined && !isAuditBlobOf(blobName, options.requestId)) continue;
      this.cost.blobsRead += 1;
      const text = Buffer.from(this.blobs.get(blobName)!.bytes).toString('utf8');
      yield { ...decodeStoredDocument(blobName, text, auditEntrySchema), blobName };
    }
  }

  /** Appends an audit entry (create-only). */
  async appendAudit(entry: AuditEntry): Promise<string> {
    this.failures.check('appendAudit', [entry]);
    const blobName = auditBlobName(entry);
    this.createJson(blobName, entry);
    return blobName;
  }

  /** Audit entries stored so far, oldest first. */
  auditEntries(): AuditEntry[] {
    return this.namesUnder('audit/')
      .reverse()
      .map((n) => this.blobs.get(n)!.json as AuditEntry);
  }

  /** Every backup record stored, in listing order. */
  records(): BackupRecord[] {
    return this.namesUnder('backups/').map((n) => this.blobs.get(n)!.record!);
  }

  /** Removes a blob, as the storage account's lifecycle management would; kvguard itself never deletes. */
  expire(blobName: string): void {
    this.blobs.delete(blobName);
    this.sortedNames = undefined;
  }

  private createJson(blobName: string, value: object): void {
    this.create(blobName, {
      bytes: new Uint8Array(encodeStoredDocument(value)),
      json: JSON.parse(JSON.stringify(value)) as unknown,
    });
  }

  private create(blobName: string, blob: { bytes: Uint8Array; record?: BackupRecord; json?: unknown }): void {
    if (this.blobs.has(blobName)) {
      throw kvError('AlreadyExists', `blob ${JSON.stringify(blobName)} already exists; kvguard never overwrites`, {
        serviceCode: 'BlobAlreadyExists',
        statusCode: 409,
      });
    }
    this.blobs.set(blobName, blob);
    this.sortedNames = undefined;
  }

  private namesUnder(prefix: string): string[] {
    this.sortedNames ??= [...this.blobs.keys()].sort();
    return this.sortedNames.filter((n) => n.startsWith(prefix));
  }
}

/** Small JSON documents with etags and the blob state store's key rules. */
export class InMemoryStateStore implements StateStore {
  private readonly documents = new Map<string, { json: string; etag: string }>();
  private counter = 0;

  /** Reads a document (a deep copy), checked against `schema` as the blob state store checks it. */
  async read<T>(key: string, schema: z.ZodType<T>): Promise<{ value: T; etag: string } | undefined> {
    const blobName = stateBlobName(key);
    const doc = this.documents.get(key);
    return doc ? { value: decodeStoredDocument(blobName, doc.json, schema), etag: doc.etag } : undefined;
  }

  /** Puts raw text under a key, as something other than kvguard (or an older kvguard) might have left it. */
  plantRaw(key: string, text: string): void {
    stateBlobName(key);
    this.counter += 1;
    this.documents.set(key, { json: text, etag: `"0x${this.counter.toString(16).padStart(8, '0')}"` });
  }

  /** Writes a document; `Conflict` when the etag condition fails, `ValidationError` for a key no blob could have. */
  async write<T extends object>(key: string, value: T, options: { etag?: string | null } = {}): Promise<void> {
    // The blob state store's own key rule, so a key that Azure Storage would refuse fails here too.
    stateBlobName(key);
    const existing = this.documents.get(key);
    if (options.etag === null && existing) {
      throw kvError('Conflict', `state ${JSON.stringify(key)} already exists`, {
        serviceCode: 'BlobAlreadyExists',
        statusCode: 409,
      });
    }
    if (typeof options.etag === 'string' && existing?.etag !== options.etag) {
      throw kvError('Conflict', `state ${JSON.stringify(key)} changed since it was read`, {
        serviceCode: 'ConditionNotMet',
        statusCode: 412,
      });
    }
    this.counter += 1;
    this.documents.set(key, {
      json: encodeStoredDocument(value).toString('utf8'),
      etag: `"0x${this.counter.toString(16).padStart(8, '0')}"`,
    });
  }

  /** Keys stored so far. */
  keys(): string[] {
    return [...this.documents.keys()].sort();
  }
}

/** A queue that keeps what was sent (JSON round-tripped and size-checked, as a storage queue message would be). */
export class InMemoryQueue<T> implements JobQueue<T> {
  /** Every message sent and not yet drained. */
  readonly sent: { job: T; delaySeconds?: number }[] = [];
  private readonly failures = new FailurePlan<'send'>();

  /** Makes the next `times` sends throw. */
  failNext(error: ErrorFactory, times = 1): this {
    this.failures.next('send', error, times);
    return this;
  }

  /** Sends one job; `ValidationError` when it would not fit in a storage queue message. */
  async send(job: T, options: { delaySeconds?: number } = {}): Promise<void> {
    this.failures.check('send', [job]);
    queueMessageText(job);
    this.sent.push({ job: JSON.parse(JSON.stringify(job)) as T, delaySeconds: options.delaySeconds });
  }

  /** The jobs sent so far (not removed). */
  get jobs(): T[] {
    return this.sent.map((s) => s.job);
  }

  /** Removes and answers every job sent so far, oldest first. */
  drain(): T[] {
    return this.sent.splice(0, this.sent.length).map((s) => s.job);
  }
}

/**
 * The alert outbox in memory, with the blob outbox's rules: create-only records, one marker per alert ever recorded,
 * etag conditions on updates, pending entries moved to a history when finished.
 */
export class InMemoryAlertOutbox implements AlertOutbox {
  private readonly pendingEntries = new Map<string, { json: string; etag: string }>();
  private readonly seen = new Set<string>();
  private readonly history: OutboxEntry[] = [];
  private counter = 0;
  private readonly failures = new FailurePlan<'record' | 'update'>();

  /** Makes the next `times` calls of `method` throw. */
  failNext(method: 'record' | 'update', error: ErrorFactory, times = 1): this {
    this.failures.next(method, error, times);
    return this;
  }

  /** Records the entry unless its id was recorded before. */
  async record(entry: OutboxEntry): Promise<string | undefined> {
    this.failures.check('record', [entry]);
    if (this.seen.has(entry.id) || this.pendingEntries.has(entry.id)) return undefined;
    this.seen.add(entry.id);
    return this.put(entry);
  }

  /** The pending entry with this id. */
  async readPending(id: string): Promise<StoredOutboxEntry | undefined> {
    const doc = this.pendingEntries.get(id);
    return doc && { entry: JSON.parse(doc.json) as OutboxEntry, etag: doc.etag };
  }

  /** Pending entries, oldest first. */
  async pending(limit: number): Promise<StoredOutboxEntry[]> {
    return [...this.pendingEntries.values()]
      .map((doc) => ({ entry: JSON.parse(doc.json) as OutboxEntry, etag: doc.etag }))
      .sort((a, b) => a.entry.recordedAt.localeCompare(b.entry.recordedAt))
      .slice(0, limit);
  }

  /** Replaces a pending entry if its etag matches; `Conflict` otherwise. */
  async update(entry: OutboxEntry, etag: string): Promise<string> {
    this.failures.check('update', [entry]);
    if (this.pendingEntries.get(entry.id)?.etag !== etag)
      throw kvError('Conflict', `outbox entry ${entry.id} changed since it was read`, { statusCode: 412 });
    return this.put(entry);
  }

  /** Moves a finished entry to the history (once). */
  async finish(entry: OutboxEntry): Promise<void> {
    if (!this.history.some((e) => e.id === entry.id)) this.history.unshift(JSON.parse(JSON.stringify(entry)));
    this.pendingEntries.delete(entry.id);
  }

  /** Pending entries, then the history newest first. */
  async recent(limit: number): Promise<OutboxEntry[]> {
    const open = (await this.pending(limit)).map((s) => s.entry);
    return [...open, ...this.history.slice(0, Math.max(0, limit - open.length))];
  }

  private put(entry: OutboxEntry): string {
    this.counter += 1;
    const etag = `"0x${this.counter.toString(16).padStart(8, '0')}"`;
    this.pendingEntries.set(entry.id, { json: JSON.stringify(entry), etag });
    return etag;
  }
}

/**
 * The real alerts port (outbox and de-duplication included) over a sink that records what it receives, for use-case
 * tests.
 * @param deps - a logger, a clock, and optionally the outbox (a fresh in-memory one by default)
 */
export function recordingAlerts(deps: { logger: Logger; clock: Clock; outbox?: AlertOutbox }): {
  alerts: Alerts;
  received: Alert[];
  outbox: AlertOutbox;
} {
  const sink = new RecordingAlertSink();
  const outbox = deps.outbox ?? new InMemoryAlertOutbox();
  const alerts = createAlerts({
    sinks: [sink],
    telemetry: new RecordingTelemetry(),
    logger: deps.logger,
    clock: deps.clock,
    outbox,
  });
  return { alerts, received: sink.received, outbox };
}

/** An alerts port that only records what was raised (for use cases whose alerts, not their delivery, are tested). */
export class RecordingAlerts implements Alerts {
  /** @param raised - where raised alerts are kept */
  constructor(readonly raised: Alert[] = []) {}

  /** Records the alert. */
  async raise(alert: Alert): Promise<AlertReceipt> {
    this.raised.push(alert);
    return { recorded: true, status: 'delivered', delivered: ['recording'], waiting: [] };
  }

  /** Nothing is ever pending here. */
  async deliverPending(): Promise<OutboxEntry[]> {
    return [];
  }
}

/** An alert sink that keeps what it is sent (a JSON copy, as it would cross the wire); failures are injectable. */
export class RecordingAlertSink implements AlertSink {
  readonly name = 'recording';
  /** Every alert delivered, in order. */
  readonly received: Alert[] = [];
  private readonly failures = new FailurePlan<'send'>();

  /** Makes the next `times` sends throw `error` (as a real sink throws when its endpoint refuses). */
  failNext(error: ErrorFactory, times = 1): this {
    this.failures.next('send', error, times);
    return this;
  }

  /** Delivers one alert. */
  async send(alert: Alert): Promise<void> {
    this.failures.check('send', [alert]);
    this.received.push(JSON.parse(JSON.stringify(alert)) as Alert);
  }
}

/** Inventories kept beside backups, create-only like the blob store's. */
export class InMemoryInventoryStore implements InventoryStore {
  readonly documents = new Map<string, string>();

  /** Records one inventory; `AlreadyExists` when the backup has one. */
  async putInventory(backupBlobName: string, inventory: ObjectInventory): Promise<void> {
    if (this.documents.has(backupBlobName)) {
      throw kvError('AlreadyExists', `inventory of ${JSON.stringify(backupBlobName)} already exists`, {
        serviceCode: 'BlobAlreadyExists',
        statusCode: 409,
      });
    }
    this.documents.set(backupBlobName, JSON.stringify(inventory));
  }

  /** The inventory of one backup, or undefined. */
  async readInventory(backupBlobName: string): Promise<ObjectInventory | undefined> {
    const json = this.documents.get(backupBlobName);
    return json === undefined ? undefined : (JSON.parse(json) as ObjectInventory);
  }
}

/** Prune marks kept in memory, like blob index tags: blob name → when it was first marked. */
export class InMemoryPruneMarks implements PruneMarks {
  readonly marked = new Map<string, Date>();

  /** Marks one blob (idempotent: the first mark's time stays). */
  async markPrunable(blobName: string, since: Date): Promise<void> {
    if (!this.marked.has(blobName)) this.marked.set(blobName, new Date(since));
  }

  /** Nothing to prove in memory: answers the first marked blob, or undefined. */
  async checkTagging(): Promise<{ blobName: string } | undefined> {
    const [first] = this.marked.keys();
    return first === undefined ? undefined : { blobName: first };
  }
}
