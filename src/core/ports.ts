import type { z } from 'zod';
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
} from './domain';

/**
 * One Key Vault, as the core needs it. The adapter behind it retries throttling and transient faults itself and
 * throws {@link KvGuardError}s for everything else; no method returns secret material except `backup`, whose bytes
 * are opaque and encrypted by Key Vault.
 */
export interface VaultPort {
  /** Vault URL with a trailing slash. */
  readonly url: string;
  /** Vault name (lower case). */
  readonly name: string;
  /** One page of the live objects of a type; pass the previous page's token to continue. */
  listObjects(
    type: ObjectType,
    options?: { continuationToken?: string; pageSize?: number },
  ): Promise<Page<ObjectSummary>>;
  /** Every version of one object. */
  listVersions(type: ObjectType, name: string): Promise<ObjectVersion[]>;
  /** A certificate's policy, which its backup carries but no version's `updated` time reflects. */
  certificatePolicy(name: string): Promise<CertificatePolicyState>;
  /** The opaque backup blob of an object (all its versions). */
  backup(type: ObjectType, name: string): Promise<Uint8Array>;
  /** Restores a backup blob; answers the restored object's name. Throws `Conflict` when the name is taken. */
  restore(type: ObjectType, backup: Uint8Array): Promise<{ name: string }>;
  /** Whether the name is free, live, or soft-deleted. */
  nameState(type: ObjectType, name: string): Promise<NameState>;
  /** Every soft-deleted object of a type. */
  listDeleted(type: ObjectType): Promise<DeletedObject[]>;
  /** Recovers a soft-deleted object and waits until it is live again. */
  recover(type: ObjectType, name: string): Promise<void>;
  /** Purges a soft-deleted object and waits until the name is free. */
  purge(type: ObjectType, name: string): Promise<void>;
  /** Soft-deletes a live object and waits until the deletion is complete (used for drills on scratch vaults). */
  delete(type: ObjectType, name: string): Promise<void>;
  /** What the adapter has seen so far: 429s answered and the highest concurrency it reached. */
  stats(): { throttled: number; maxConcurrency: number };
}

/** Options for opening a vault. */
export interface OpenVaultOptions {
  /** After this instant, retries stop and calls fail with `DeadlineExceeded`. */
  deadline?: Date;
}

/** Opens {@link VaultPort}s; one per vault URL and run. */
export interface VaultPortFactory {
  /** Opens the vault at `url`. */
  open(url: string, options?: OpenVaultOptions): VaultPort;
}

/** Filter for catalog listings. */
export interface BackupQuery {
  vault?: string;
  type?: ObjectType;
  name?: string;
  /** Only backups taken at or before this instant. */
  asOf?: Date;
}

/**
 * The immutable, catalogued backup storage. Every write is create-only: nothing is ever overwritten or deleted.
 */
export interface BackupStore {
  /** Stores the exact bytes Key Vault returned; throws `AlreadyExists` rather than overwrite. */
  putBackup(record: Omit<BackupRecord, 'blobName'>, bytes: Uint8Array): Promise<BackupRecord>;
  /** The newest backup of one object, optionally the newest taken at or before `asOf`. */
  latestBackup(vault: string, type: ObjectType, name: string, asOf?: Date): Promise<BackupRecord | undefined>;
  /** Catalog entries matching the query: grouped by object, newest first within each object. */
  listBackups(query: BackupQuery): AsyncIterable<BackupRecord>;
  /** The bytes and catalog entry of one backup blob; throws `NotFound`. */
  readBackup(blobName: string): Promise<{ record: BackupRecord; bytes: Uint8Array }>;
  /** Stores a run manifest (create-only); answers its blob name. */
  putManifest(manifest: RunManifest): Promise<string>;
  /** Manifests of one vault (or all), newest first. */
  listManifests(vault?: string): AsyncIterable<RunManifest & { blobName: string }>;
  /**
   * One page of the manifest heads of one vault, newest first: the listing's names and metadata, without reading a
   * manifest (older manifests without the metadata are read). Pass the previous page's token to continue.
   */
  listManifestHeads(
    vault: string,
    options?: { continuationToken?: string; pageSize?: number },
  ): Promise<Page<ManifestHead>>;
  /** The vaults that have run manifests. */
  listManifestVaults(): Promise<string[]>;
  /** One run manifest by blob name; throws `NotFound`. */
  readManifest(blobName: string): Promise<RunManifest>;
  /** Appends one audit entry (create-only); answers its blob name. */
  appendAudit(entry: AuditEntry): Promise<string>;
  /** Audit entries, newest first (day by day); with `requestId`, only that request's (other entries are not read). */
  listAudit(options?: { requestId?: string }): AsyncIterable<AuditEntry & { blobName: string }>;
}

/** One audited action (a restore request, a drill). */
export interface AuditEntry {
  action: 'restore' | 'drill';
  at: string;
  principal: string;
  requestId: string;
  dryRun: boolean;
  source: { vault: string; asOf?: string; backup?: string; format?: 'portable' };
  target: { vault: string };
  objects: { type: ObjectType; name: string; outcome: string; reason?: string }[];
  outcome: string;
}

/** A caller whose identity was proven: a bearer token whose signature, issuer, audience and lifetime were checked. */
export interface VerifiedPrincipal {
  /** Who the token says the caller is (user name, else application or object id), as the token has it. */
  name: string;
  /** The caller's object id in the tenant, when the token carries one. */
  objectId?: string;
  /** App roles, only from the token's `roles` claim. */
  roles: string[];
}

/** Checks bearer tokens (Entra ID). */
export interface PrincipalVerifier {
  /** Answers the principal a token proves; throws `Unauthorized` naming what was wrong with it. */
  verify(token: string): Promise<VerifiedPrincipal>;
}

/**
 * Small mutable documents (watcher state, event de-duplication, restore jobs), with optimistic concurrency. Each
 * document is stored with a format version and checked against the reader's schema when read back.
 */
export interface StateStore {
  /**
   * Reads a document; undefined when it does not exist. Throws `IntegrityError` naming the document when it does
   * not match `schema` or is in a format this kvguard cannot read.
   */
  read<T>(key: string, schema: z.ZodType<T>): Promise<{ value: T; etag: string } | undefined>;
  /**
   * Writes a document (a JSON object). With `etag`, only if unchanged since read; with `etag: null`, only if it
   * does not exist. Throws `Conflict` when the condition fails.
   */
  write<T extends object>(key: string, value: T, options?: { etag?: string | null }): Promise<void>;
}

/** A queue of jobs for the Functions engine to run. */
export interface JobQueue<T> {
  /** Sends one job, optionally invisible for a while. */
  send(job: T, options?: { delaySeconds?: number }): Promise<void>;
}

/** Severity of an alert. */
export type AlertSeverity = 'info' | 'warning' | 'critical';

/** Something an operator must know about. */
export interface Alert {
  /** Event type, e.g. `kvguard.ObjectDeleted`. */
  type: string;
  severity: AlertSeverity;
  /** What it is about, e.g. `contoso/key/db-key`. */
  subject: string;
  /** One sentence a human can act on. */
  summary: string;
  /** Alerts with the same key are raised once. */
  dedupeKey: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

/** Where alerts go (App Insights, webhook, Event Grid topic …). */
export interface AlertSink {
  /** Short name for logs. */
  readonly name: string;
  /** Delivers one alert; throws on failure. */
  send(alert: Alert): Promise<void>;
}

/** How far one sink got with one alert. */
export interface SinkDelivery {
  status: 'delivered' | 'failed';
  attempts: number;
  lastAttemptAt: string;
  deliveredAt?: string;
  /** The last failure, one line (never secret material). */
  error?: string;
}

/** Where an alert stands: waiting for a sink, delivered to every sink, or given up on (parked) with a reason. */
export type OutboxStatus = 'pending' | 'delivered' | 'parked';

/** One alert in the outbox: the alert itself and its delivery state per sink. */
export interface OutboxEntry {
  /** Stable id derived from the alert's `dedupeKey` (safe in a blob name). */
  id: string;
  alert: Alert;
  recordedAt: string;
  status: OutboxStatus;
  /** Delivery state per sink name. */
  deliveries: Record<string, SinkDelivery>;
  /** Delivery passes that tried this alert. */
  passes: number;
  /** While set and in the future, one process is delivering the alert and others leave it alone. */
  leaseUntil?: string;
  /** Why the alert was parked. */
  parkedReason?: string;
  /** When it was delivered or parked. */
  finishedAt?: string;
}

/** An outbox entry with the etag it was read at. */
export interface StoredOutboxEntry {
  entry: OutboxEntry;
  etag: string;
}

/**
 * The durable alert outbox: an alert is recorded here before anything that depends on it is marked as seen, and is
 * delivered from here, at least once, until it succeeds or is parked.
 */
export interface AlertOutbox {
  /** Records a new entry create-only; answers its etag, or undefined when its id was recorded before (a duplicate). */
  record(entry: OutboxEntry): Promise<string | undefined>;
  /** One pending entry by id; undefined when it is not pending. */
  readPending(id: string): Promise<StoredOutboxEntry | undefined>;
  /** Pending entries, oldest first, at most `limit`. */
  pending(limit: number): Promise<StoredOutboxEntry[]>;
  /** Replaces a pending entry if unchanged since read; answers the new etag; throws `Conflict` otherwise. */
  update(entry: OutboxEntry, etag: string): Promise<string>;
  /** Moves a delivered or parked entry to the history (idempotent). */
  finish(entry: OutboxEntry): Promise<void>;
  /** Recent entries: pending ones, then the history newest first; at most `limit` in all. */
  recent(limit: number): Promise<OutboxEntry[]>;
}

/** What became of one raised alert. */
export interface AlertReceipt {
  /** False when the alert had been raised before (same `dedupeKey`). */
  recorded: boolean;
  /** Where delivery stands; `duplicate` for an alert raised and finished before. */
  status: OutboxStatus | 'duplicate';
  /** Sinks that have it. */
  delivered: string[];
  /** Sinks still to deliver to (retried by the timers). */
  waiting: string[];
}

/** Raises alerts to every configured sink. */
export interface Alerts {
  /**
   * Records an alert durably once (deduplicated by `dedupeKey`) and tries to deliver it. Throws only when it could
   * not be recorded, so a caller never marks as seen what no one will hear of; a failing sink is retried later.
   */
  raise(alert: Alert): Promise<AlertReceipt>;
  /** Delivers pending alerts from the outbox (the timers call this); answers what happened to each. */
  deliverPending(): Promise<OutboxEntry[]>;
}

/** Custom events and metrics; never given secret values or backup bytes. */
export interface Telemetry {
  /** Records a named event with string properties and numeric measurements. */
  event(name: string, properties?: Record<string, string>, measurements?: Record<string, number>): void;
  /** Records one metric value. */
  metric(name: string, value: number, properties?: Record<string, string>): void;
}

/** Structured log lines; never given secret values. */
export interface Logger {
  /** Something worth knowing. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Something wrong that kvguard coped with. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Something wrong that needs attention. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/** Time, injectable so tests can move it. */
export interface Clock {
  /** The current instant. */
  now(): Date;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** The system clock. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A logger that drops everything (for tests and quiet CLIs). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** Telemetry that drops everything. */
export const noTelemetry: Telemetry = { event: () => {}, metric: () => {} };

/** A vault Azure Resource Manager lists with the discovery tag. */
export interface TaggedVault {
  /** ARM resource id. */
  resourceId: string;
  /** Vault name (lower case). */
  name: string;
  /** Data-plane URL, e.g. `https://contoso.vault.azure.net/`. */
  url: string;
  /** How the vault authorises data access. */
  permissionModel: 'rbac' | 'accessPolicy';
}

/** Finds vaults by tag through Azure Resource Manager. */
export interface VaultDirectory {
  /**
   * Every vault of a subscription whose tag `tagName` has the value `tagValue` (case-insensitive).
   * @param subscriptionId - the subscription to search
   * @param tag - tag name and the value that marks a vault
   */
  listTaggedVaults(subscriptionId: string, tag: { name: string; value: string }): AsyncIterable<TaggedVault>;
}

/** Read-only probes of kvguard's storage, for `kvguard doctor`. */
export interface StorageProbe {
  /** True when storage is reached with a connection string (local stack): neither RBAC nor WORM applies there. */
  readonly local: boolean;
  /** Whether the backup container exists. */
  backupContainerExists(): Promise<boolean>;
  /** What the service says about the backup container's immutability; fields are undefined when it says nothing. */
  backupImmutability(): Promise<{ hasPolicy?: boolean; hasLegalHold?: boolean }>;
  /**
   * Creates a canary blob (create-only, under `doctor/`), then tries to overwrite and to delete it; answers which
   * attempts the service refused.
   */
  probeTamper(): Promise<{ canary: string; overwriteRefused: boolean; deleteRefused: boolean }>;
  /** Whether a queue exists and answers. */
  queueExists(name: string): Promise<boolean>;
}

/** The key-encryption key (KEK) of portable exports: an RSA key in a vault or Managed HSM of another geography. */
export interface KeyWrapper {
  /** Wraps a data key (RSA-OAEP-256) with the KEK's current version; answers the versioned key id it used. */
  wrap(dataKey: Uint8Array): Promise<{ keyId: string; wrappedKey: Uint8Array }>;
  /** Unwraps a data key with the KEK version that wrapped it (`keyId` is versioned). */
  unwrap(keyId: string, wrappedKey: Uint8Array): Promise<Uint8Array>;
  /** The KEK's current versioned key id; throws when the KEK cannot be read or may not wrap and unwrap. */
  currentKeyId(): Promise<string>;
}

/** A version's attributes as a portable restore recreates them. */
export interface VersionAttributes {
  contentType?: string;
  tags: Record<string, string>;
  enabled: boolean;
  expiresOn?: Date;
  notBefore?: Date;
}

/**
 * The values of a vault's secrets (and certificates, whose value is the secret of the same name), for portable
 * exports and restores only. Values live in memory for the call and are never logged.
 */
export interface VaultMaterial {
  /** Vault name (lower case). */
  readonly name: string;
  /** One secret version's value (a certificate's: its PKCS#12 as base64, or its PEM) and content type. */
  secretValue(name: string, version: string): Promise<{ value: string; contentType?: string }>;
  /** Adds a secret version with these attributes; answers the new version id. */
  setSecret(name: string, value: string, attributes: VersionAttributes): Promise<{ version: string }>;
  /**
   * Imports a certificate version from its PKCS#12 (base64) or PEM with its policy; answers the new version id.
   * Expiry and not-before come from the certificate itself.
   */
  importCertificate(
    name: string,
    value: string,
    options: { contentType: string; policy?: unknown; enabled: boolean; tags: Record<string, string> },
  ): Promise<{ version: string }>;
}

/** Opens {@link VaultMaterial} and the KEK. */
export interface PortableVaults {
  /** The values of the vault at `url`, through the same retrying caller as its {@link VaultPort}. */
  material(url: string, options?: OpenVaultOptions): VaultMaterial;
  /** The KEK named by a key id URL (unversioned: its current version wraps). */
  keyWrapper(keyId: string, options?: OpenVaultOptions): KeyWrapper;
}
