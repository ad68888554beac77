import { z } from 'zod';

/** The three kinds of Key Vault object kvguard protects. */
export type ObjectType = 'key' | 'secret' | 'certificate';

/** Every object type, in the order a run processes them. */
export const OBJECT_TYPES: readonly ObjectType[] = ['key', 'secret', 'certificate'];

/** Schema of an object type, for every document and message that names one. */
export const objectTypeSchema = z.enum(OBJECT_TYPES as [ObjectType, ...ObjectType[]]);

/** One object's identity within a vault, as a map key: `type/name`, the name lower-cased as Key Vault compares it. */
export function objectKey(object: { type: ObjectType; name: string }): string {
  return `${object.type}/${object.name.toLowerCase()}`;
}

/**
 * A vault's name as kvguard keys its catalog (case-insensitive): Azure allows 3-24 letters, digits and dashes;
 * names derived from local emulator URLs (`127-0-0-1-8443`) may be longer.
 */
export const VAULT_NAME_PATTERN = /^[0-9a-z-]{1,63}$/i;

/** A vault kvguard protects, as configured. */
export interface VaultTarget {
  /** Vault URL, e.g. `https://contoso.vault.azure.net/` (always with a trailing slash). */
  url: string;
  /** Vault name derived from the URL (lower case); stable key in the catalog. */
  name: string;
  /** ARM resource id, when configured: kvguard reads the vault's tags through it (`kvguard:paused=true`). */
  resourceId?: string;
  /** Object types to back up. */
  types: ObjectType[];
  /** Which objects are critical (only those are backed up on a schedule). */
  critical: CriticalSelector;
  /** What is protected, when, and for how long; absent means the defaults (everything, never paused, kept forever). */
  policy?: VaultPolicy;
  /** The vault's published limit in operations per 10 s, when configured apart from the default. */
  rateLimit?: number;
  /** Portable exports on: secrets and exportable certificates are also sealed under the KEK (see README). */
  portable?: boolean;
}

/**
 * Picks objects by name glob (optionally of one type), tag or content type. Globs use `*` and `?` and match
 * case-insensitively, as Key Vault names do.
 */
export type ObjectFilter =
  | { kind: 'name'; type?: ObjectType; pattern: string }
  | { kind: 'tag'; tag: string; value: string }
  | { kind: 'contentType'; pattern: string };

/** How long backups are kept; each limit absent means "no limit of that kind" (all absent: kept forever). */
export interface RetentionPolicy {
  /** Keep every backup younger than this many days. */
  keepDays?: number;
  /** Keep at least this many newest backups of each object. */
  keepLast?: number;
  /** Keep the newest backup of an object gone from the vault for this many days after it was last seen. */
  keepDeletedDays?: number;
}

/** A vault's backup policy, resolved from its `KVGUARD_VAULTS` entry and the default settings. */
export interface VaultPolicy {
  /** When non-empty, only objects matching at least one of these are backed up. */
  include: ObjectFilter[];
  /** Objects matching any of these are never backed up. */
  exclude: ObjectFilter[];
  /** Paused by setting: scheduled runs skip the vault (the vault tag `kvguard:paused=true` pauses it too). */
  paused: boolean;
  /** NCRONTAB schedule of this vault's runs; absent: every tick of the backup timer. */
  schedule?: string;
  /** Recovery point objective of this vault. */
  rpoHours: number;
  retention: RetentionPolicy;
  /**
   * An unchanged object is stored again once its newest backup is this old, so it never ages out of `keepDays`
   * or out of the storage's WORM window (derived from both; see `refreshAfterDays`).
   */
  refreshAfterDays: number;
}

/** Chooses the critical objects of a vault. */
export type CriticalSelector =
  { kind: 'all' } | { kind: 'tag'; tag: string; value: string } | { kind: 'names'; patterns: string[] };

/** One object as seen in a vault listing (no secret material). */
export interface ObjectSummary {
  type: ObjectType;
  /** Object name as the vault spells it. */
  name: string;
  tags: Record<string, string>;
  enabled: boolean;
  /** True for the key and secret that back a certificate: backed up through the certificate. */
  managed: boolean;
  /** When the current version's attributes last changed: a new version, enable/disable, tags, expiry all move it. */
  updatedOn?: Date;
  /** The secret's content type (secrets only; Key Vault lists no content type for keys or certificates). */
  contentType?: string;
  /** The current version, when the listing carries it (Key Vault's own listings leave it out of the id). */
  version?: string;
  /** Certificates: hex thumbprint of the current version's X.509 certificate (a new version changes it). */
  thumbprint?: string;
}

/** One version of an object (no secret material). */
export interface ObjectVersion {
  /** Version identifier (the last path segment of the id). */
  version: string;
  updatedOn?: Date;
  createdOn?: Date;
  enabled: boolean;
  /** True for a version of the key or secret that backs a certificate. */
  managed?: boolean;
  expiresOn?: Date;
  notBefore?: Date;
  /** The version's tags (Key Vault keeps tags per version; the object's are its newest version's). */
  tags?: Record<string, string>;
  contentType?: string;
}

/** A certificate's policy (subject, validity, key and lifetime settings; no secret material), as the vault holds it. */
export interface CertificatePolicyState {
  /** When the policy last changed; a policy update moves no version's `updated`. */
  updatedOn?: Date;
  /** The whole policy as the service answered it. */
  content: unknown;
}

/** A page of a listing, with the token that continues it (the service's nextLink). */
export interface Page<T> {
  items: T[];
  continuationToken?: string;
}

/** Whether a name is free in a vault, taken by a live object, or held by a soft-deleted one. */
export type NameState = 'free' | 'live' | 'deleted';

/** A soft-deleted object, as the deleted-object listing shows it. */
export interface DeletedObject {
  type: ObjectType;
  name: string;
  deletedOn?: Date;
  scheduledPurgeDate?: Date;
  recoveryId?: string;
}

/** What kvguard records about one stored backup blob: the catalog entry. */
export interface BackupRecord {
  /** Blob name inside the backup container. */
  blobName: string;
  vault: string;
  type: ObjectType;
  /** Object name, as the vault spells it. */
  name: string;
  /**
   * Fingerprint of the object's versions (ids + updated times) when they were listed for this backup; when they
   * were not (a full run or a refresh of an object whose listing had not changed), the previous backup's.
   */
  fingerprint: string;
  /** Change token of the object as its vault listing showed it (see `listingFingerprint`); absent on old backups. */
  listing?: string;
  /** Hex SHA-256 of the blob content (the opaque bytes Key Vault returned). */
  sha256: string;
  size: number;
  /** Versions the object had when they were last listed (see `versionsCounted`). */
  versionCount: number;
  /**
   * False when this backup was taken without listing the versions (a full run, or a changed object far from the
   * version limit): `versionCount` is then the last count kvguard made, not a count of this blob.
   */
  versionsCounted?: false;
  takenAt: Date;
  runId: string;
  kvguardVersion: string;
}

/** Outcome of one object in a backup run. */
export type ObjectOutcome =
  | {
      status: 'stored';
      blobName: string;
      sha256: string;
      size: number;
      /** Stored although unchanged: its newest backup was about to age out (see `VaultPolicy.refreshAfterDays`). */
      refreshed?: boolean;
    }
  | { status: 'unchanged'; blobName: string }
  | { status: 'failed'; code: string; reason: string };

/** One line of a run manifest. */
export interface ManifestEntry {
  type: ObjectType;
  name: string;
  versionCount: number;
  durationMs: number;
  outcome: ObjectOutcome;
  /** Present when the object is close to Key Vault's 500-version backup limit. */
  warning?: string;
  /** The portable export beside the backup, on vaults with portable exports on. */
  portable?: PortableEntry;
}

/** What one backup job (a whole vault, or one chunk of it) did. */
export interface RunManifest {
  runId: string;
  vault: string;
  vaultUrl: string;
  /** Why the run happened: schedule, manual (CLI/HTTP), or an event. */
  trigger: 'schedule' | 'manual' | 'event';
  full: boolean;
  /** `chunk`: one listing page of a vault run; `objects`: named objects (event snapshots); `summary`: a whole run. */
  scope: 'chunk' | 'objects' | 'summary';
  startedAt: string;
  finishedAt: string;
  /** Chunk identity when the run was split: object type, page sequence, and whether it was that type's last page. */
  chunk?: { type: ObjectType; sequence: number; lastPage: boolean };
  /** For a follow-up of objects that missed an earlier job's deadline: how many follow-ups deep it is. */
  followUp?: number;
  entries: ManifestEntry[];
  /** A failure of the whole job (vault unreachable, forbidden …). */
  error?: { code: string; reason: string };
  stats: RunStats;
}

/**
 * What the listing of one run manifest tells without reading it (the blob store keeps it as the blob's metadata):
 * the manifest minus its entries, plus how many entries it has.
 */
export type ManifestHead = Omit<RunManifest, 'entries'> & { blobName: string; entryCount: number };

/** Counts and measurements of a run. */
export interface RunStats {
  stored: number;
  unchanged: number;
  failed: number;
  bytes: number;
  durationMs: number;
  throttled: number;
  maxConcurrency: number;
}

/** Counts and measurements of a run, all zero. */
export function emptyRunStats(): RunStats {
  return { stored: 0, unchanged: 0, failed: 0, bytes: 0, durationMs: 0, throttled: 0, maxConcurrency: 0 };
}

/** Adds the entries' outcomes to a run's counts (stored, unchanged, failed) and stored bytes. */
export function tallyEntries(stats: RunStats, entries: Iterable<ManifestEntry>): void {
  for (const { outcome } of entries) {
    stats[outcome.status] += 1;
    if (outcome.status === 'stored') stats.bytes += outcome.size;
  }
}

/** Key Vault cannot back up an object with more than this many versions. */
export const MAX_BACKUP_VERSIONS = 500;
/** From this many versions on, kvguard warns that the backup limit is near. */
export const VERSION_WARNING_THRESHOLD = 400;

/** What the portable export beside an opaque backup did (see `exportPortable`; no secret material). */
export interface PortableEntry {
  status: 'exported' | 'not-carried' | 'failed';
  /** The snapshot blob (exported, not-carried). */
  snapshot?: string;
  /** Versions sealed now, and versions whose envelopes were already stored. */
  sealed?: number;
  reused?: number;
  code?: string;
  reason?: string;
}
