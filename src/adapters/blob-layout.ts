/**
 * Blob layout of the backup container: pure naming rules shared by the blob store and its in-memory twin.
 *
 * ```
 * backups/<vault>/<type>/<name lower-case>/<inverted-ms 13 digits>-<fingerprint first 12>.kvbak
 * runs/<vault>/<inverted-ms>-<runId>-(<type>-<sequence>|summary|objects).json
 * audit/<yyyy>/<mm>/<dd>/<inverted-ms>-<requestId>.json
 * inventory/<vault>/<type>/<name lower-case>/<inverted-ms>-<fingerprint first 12>.json   (one per backup blob)
 * portable/<vault>/<type>/<name lower-case>/envelopes/<version>/<metadata digest>-<KEK id hash>.json
 * portable/<vault>/<type>/<name lower-case>/snapshots/<inverted-ms>-<runId>.json
 * ```
 *
 * Blob listings are lexicographic, so an inverted timestamp makes every prefix listing newest-first: "latest backup
 * of X" is the first blob under X's prefix, and "latest as of T" is the first one whose time is at or before T.
 * Key Vault names are case-insensitive, hence the lower-cased name segment (the original spelling is in metadata).
 */
import type { BackupRecord, ManifestHead, ObjectType, RunManifest } from '../core/domain';
import { OBJECT_TYPES } from '../core/domain';
import type { AuditEntry } from '../core/ports';
import { KvGuardError } from '../core/errors';
import { sha256Hex } from '../core/backup/fingerprint';

/** Largest 13-digit millisecond timestamp (year 2286); inverted times count down from it. */
const MAX_TIME_MS = 9_999_999_999_999;
const TIME_DIGITS = 13;

/** Top-level folders of the backup container. */
export const LAYOUT_ROOTS = {
  backups: 'backups/',
  runs: 'runs/',
  audit: 'audit/',
  inventory: 'inventory/',
  portable: 'portable/',
} as const;

/** 13 digits that sort newest-first: `MAX - epoch ms`, zero-padded. */
export function invertedTimestamp(at: Date): string {
  const ms = at.getTime();
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) {
    throw new KvGuardError('ValidationError', `timestamp ${JSON.stringify(at)} is outside the catalog's range`, {
      field: 'takenAt',
    });
  }
  return String(MAX_TIME_MS - ms).padStart(TIME_DIGITS, '0');
}

/** The instant an inverted timestamp stands for. */
export function fromInvertedTimestamp(text: string): Date {
  if (!/^\d{13}$/.test(text))
    throw new KvGuardError('ValidationError', `${JSON.stringify(text)} is not an inverted timestamp`);
  return new Date(MAX_TIME_MS - Number(text));
}

/** A path segment safe in a blob name: lower-case letters, digits, `-`, `_` and `.` only. */
function segment(text: string, field: string): string {
  const safe = text.toLowerCase();
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(safe)) {
    throw new KvGuardError('ValidationError', `${field} ${JSON.stringify(text)} cannot be used in a blob name`, {
      field,
    });
  }
  return safe;
}

/** A free-form id (run id, request id) squeezed into a blob-name-safe segment. */
function idSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || '_';
}

/** Object selector of a backup prefix; each level is optional from the right. */
export interface BackupPrefixQuery {
  vault?: string;
  type?: ObjectType;
  name?: string;
}

/**
 * The listing prefix for backups of a vault, a type, or one object. Levels must be given left to right (a name
 * without a type cannot narrow the prefix).
 */
export function backupPrefix(query: BackupPrefixQuery = {}): string {
  let prefix: string = LAYOUT_ROOTS.backups;
  if (query.vault === undefined) return prefix;
  prefix += `${segment(query.vault, 'vault')}/`;
  if (query.type === undefined) return prefix;
  prefix += `${query.type}/`;
  if (query.name === undefined) return prefix;
  return `${prefix}${segment(query.name, 'name')}/`;
}

/** The blob name of one backup. */
export function backupBlobName(
  record: Pick<BackupRecord, 'vault' | 'type' | 'name' | 'takenAt' | 'fingerprint'>,
): string {
  const fingerprint =
    record.fingerprint
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 12) || 'none';
  return `${backupPrefix(record)}${invertedTimestamp(record.takenAt)}-${fingerprint}.kvbak`;
}

/**
 * The blob name of a backup's inventory (its versions, attributes and tags): the backup's own path under
 * `inventory/`, so one name leads to the other.
 */
export function inventoryBlobName(backupBlobName: string): string {
  if (!parseBackupBlobName(backupBlobName)) {
    throw new KvGuardError('ValidationError', `${JSON.stringify(backupBlobName)} is not a backup blob name`, {
      field: 'blobName',
    });
  }
  return `${LAYOUT_ROOTS.inventory}${backupBlobName.slice(LAYOUT_ROOTS.backups.length, -'.kvbak'.length)}.json`;
}

/** What a backup blob name alone tells: the object (name lower-cased) and when it was taken. */
export interface ParsedBackupBlobName {
  vault: string;
  type: ObjectType;
  nameLower: string;
  takenAt: Date;
  fingerprintPrefix: string;
}

/** Parses a backup blob name; undefined when the name does not follow the layout. */
export function parseBackupBlobName(blobName: string): ParsedBackupBlobName | undefined {
  const match = /^backups\/([^/]+)\/([^/]+)\/([^/]+)\/(\d{13})-([a-z0-9]+)\.kvbak$/.exec(blobName);
  if (!match || !(OBJECT_TYPES as readonly string[]).includes(match[2]!)) return undefined;
  return {
    vault: match[1]!,
    type: match[2] as ObjectType,
    nameLower: match[3]!,
    takenAt: fromInvertedTimestamp(match[4]!),
    fingerprintPrefix: match[5]!,
  };
}

/** The listing prefix for run manifests of one vault, or of every vault. */
export function manifestPrefix(vault?: string): string {
  return vault === undefined ? LAYOUT_ROOTS.runs : `${LAYOUT_ROOTS.runs}${segment(vault, 'vault')}/`;
}

/**
 * The blob name of a run manifest. A chunk adds its type and sequence, other manifests their scope, so the chunks,
 * event snapshots and summary of one run never collide.
 */
export function manifestBlobName(
  manifest: Pick<RunManifest, 'vault' | 'runId' | 'startedAt' | 'chunk' | 'scope' | 'followUp'>,
): string {
  const suffix = manifest.chunk
    ? `-${manifest.chunk.type}-${manifest.chunk.sequence}`
    : `-${manifest.scope}${manifest.followUp ? `-followup-${manifest.followUp}` : ''}`;
  return `${manifestPrefix(manifest.vault)}${invertedTimestamp(new Date(manifest.startedAt))}-${idSegment(manifest.runId)}${suffix}.json`;
}

/**
 * Orders manifest blob names newest-first across vaults (within one vault, plain lexicographic order already is):
 * by the inverted timestamp of the last path segment, then by the whole name.
 */
export function compareManifestBlobNames(a: string, b: string): number {
  const keyA = a.slice(a.lastIndexOf('/') + 1);
  const keyB = b.slice(b.lastIndexOf('/') + 1);
  if (keyA !== keyB) return keyA < keyB ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Run manifest metadata keys (see {@link manifestMetadata}). */
const STAT_KEYS = ['stored', 'unchanged', 'failed', 'bytes', 'durationMs', 'throttled', 'maxConcurrency'] as const;

/**
 * Blob metadata of a run manifest: everything but its entries, so a listing with metadata is the run history
 * (see {@link manifestHeadFromMetadata}).
 */
export function manifestMetadata(manifest: RunManifest): Record<string, string> {
  const plain: Record<string, string> = {
    vault: manifest.vault,
    runid: manifest.runId,
    scope: manifest.scope,
    vaulturl: manifest.vaultUrl,
    trigger: manifest.trigger,
    full: String(manifest.full),
    startedat: manifest.startedAt,
    finishedat: manifest.finishedAt,
    entrycount: String(manifest.entries.length),
  };
  if (manifest.chunk)
    plain.chunk = `${manifest.chunk.type}.${manifest.chunk.sequence}.${manifest.chunk.lastPage ? 'last' : 'more'}`;
  for (const key of STAT_KEYS) plain[`stat${key.toLowerCase()}`] = String(manifest.stats[key]);
  if (manifest.error) {
    plain.errorcode = manifest.error.code;
    // Metadata is capped at 8 KiB per blob; the manifest itself keeps the whole reason.
    plain.errorreason = manifest.error.reason.slice(0, 512);
  }
  return encodeMetadata(plain);
}

/** The head of a run manifest from its blob name and metadata; undefined when the metadata predates heads. */
export function manifestHeadFromMetadata(
  blobName: string,
  metadata: Record<string, string> | undefined,
): ManifestHead | undefined {
  const m = Object.fromEntries(
    Object.entries(metadata ?? {}).map(([k, v]) => [k.toLowerCase(), decodeURIComponent(v)]),
  );
  if (!m.finishedat || !m.startedat || !m.runid || !m.vault || !m.scope) return undefined;
  const chunk = m.chunk ? /^(key|secret|certificate)\.(\d+)\.(last|more)$/.exec(m.chunk) : undefined;
  const stats = Object.fromEntries(STAT_KEYS.map((key) => [key, Number(m[`stat${key.toLowerCase()}`] ?? 0)]));
  return {
    blobName,
    vault: m.vault,
    runId: m.runid,
    vaultUrl: m.vaulturl ?? '',
    trigger: (m.trigger ?? 'manual') as RunManifest['trigger'],
    full: m.full === 'true',
    scope: m.scope as RunManifest['scope'],
    startedAt: m.startedat,
    finishedAt: m.finishedat,
    ...(chunk
      ? { chunk: { type: chunk[1] as ObjectType, sequence: Number(chunk[2]), lastPage: chunk[3] === 'last' } }
      : {}),
    ...(m.errorcode ? { error: { code: m.errorcode, reason: m.errorreason ?? '' } } : {}),
    stats: stats as unknown as RunManifest['stats'],
    entryCount: Number(m.entrycount ?? 0),
  };
}

/** The head of a manifest that was read in full. */
export function manifestHeadOf(blobName: string, manifest: RunManifest): ManifestHead {
  const { entries, ...rest } = manifest;
  return { ...rest, blobName, entryCount: entries.length };
}

/** The blob name of one audit entry: one folder per UTC day, newest first inside it. */
export function auditBlobName(entry: Pick<AuditEntry, 'at' | 'requestId'>): string {
  const at = new Date(entry.at);
  const day = at.toISOString().slice(0, 10).replace(/-/g, '/');
  return `${LAYOUT_ROOTS.audit}${day}/${invertedTimestamp(at)}-${idSegment(entry.requestId)}.json`;
}

/**
 * Refuses to store bytes that are not the ones the record describes (SHA-256 and size), so the catalog never
 * points at content it does not match; throws `IntegrityError` naming the object, never quoting the bytes.
 */
export function checkBytesMatchRecord(
  record: Pick<BackupRecord, 'type' | 'name' | 'sha256' | 'size'>,
  bytes: Uint8Array,
): void {
  if (sha256Hex(bytes) !== record.sha256.toLowerCase() || bytes.byteLength !== record.size) {
    throw new KvGuardError(
      'IntegrityError',
      `backup of ${record.type} ${record.name} does not match its record (sha256 or size differ)`,
    );
  }
}

/**
 * The blob name of a state document (`<key>.json`); throws `ValidationError` for a key that is not a safe blob
 * name or that lies under the catalog's folders: state blobs are overwritten, so should the state and backup
 * containers be one, such a key could replace a run manifest or an audit entry.
 */
export function stateBlobName(key: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,900}$/.test(key) || key.includes('..')) {
    throw new KvGuardError('ValidationError', `state key ${JSON.stringify(key)} is not a valid blob name`, {
      field: 'key',
    });
  }
  if (Object.values(LAYOUT_ROOTS).some((root) => key.startsWith(root))) {
    throw new KvGuardError(
      'ValidationError',
      `state key ${JSON.stringify(key)} lies under the backup catalog's folders`,
      {
        field: 'key',
      },
    );
  }
  return `${key}.json`;
}

/** True when an audit blob name belongs to the request id (the name ends with the id's segment). */
export function isAuditBlobOf(blobName: string, requestId: string): boolean {
  return blobName.endsWith(`-${idSegment(requestId)}.json`);
}

/** Blob metadata from plain values: keys must be C# identifiers (lower case here), values are percent-encoded so they stay ASCII. */
export function encodeMetadata(plain: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, encodeURIComponent(v)]));
}

/** Blob metadata of a backup (see {@link encodeMetadata}). */
export function backupMetadata(record: Omit<BackupRecord, 'blobName'>): Record<string, string> {
  return encodeMetadata({
    vault: record.vault,
    type: record.type,
    name: record.name,
    fingerprint: record.fingerprint,
    sha256: record.sha256,
    size: String(record.size),
    versioncount: String(record.versionCount),
    takenat: record.takenAt.toISOString(),
    runid: record.runId,
    kvguardversion: record.kvguardVersion,
    ...(record.listing ? { listing: record.listing } : {}),
    ...(record.versionsCounted === false ? { versionscounted: 'false' } : {}),
  });
}

/** Reads a catalog entry back from a backup blob's name and metadata; throws `IntegrityError` when incomplete. */
export function recordFromMetadata(blobName: string, metadata: Record<string, string> | undefined): BackupRecord {
  const lower = Object.fromEntries(
    Object.entries(metadata ?? {}).map(([k, v]) => [k.toLowerCase(), decodeURIComponent(v)]),
  );
  const parsed = parseBackupBlobName(blobName);
  const missing = ['vault', 'type', 'name', 'fingerprint', 'sha256', 'size', 'takenat'].filter(
    (k) => lower[k] === undefined,
  );
  if (!parsed || missing.length > 0) {
    throw new KvGuardError(
      'IntegrityError',
      `backup blob ${JSON.stringify(blobName)} lacks catalog metadata (${missing.join(', ') || 'layout'})`,
    );
  }
  return {
    blobName,
    vault: lower.vault!,
    type: parsed.type,
    name: lower.name!,
    fingerprint: lower.fingerprint!,
    sha256: lower.sha256!,
    size: Number(lower.size),
    versionCount: Number(lower.versioncount ?? 0),
    takenAt: new Date(lower.takenat!),
    runId: lower.runid ?? '',
    kvguardVersion: lower.kvguardversion ?? '',
    ...(lower.listing ? { listing: lower.listing } : {}),
    ...(lower.versionscounted === 'false' ? { versionsCounted: false as const } : {}),
  };
}

/** True when a catalog entry matches a query's filters (the prefix only narrows by vault/type/name in order). */
export function matchesBackupQuery(record: BackupRecord, query: BackupPrefixQuery & { asOf?: Date }): boolean {
  if (query.vault !== undefined && record.vault.toLowerCase() !== query.vault.toLowerCase()) return false;
  if (query.type !== undefined && record.type !== query.type) return false;
  if (query.name !== undefined && record.name.toLowerCase() !== query.name.toLowerCase()) return false;
  if (query.asOf !== undefined && record.takenAt.getTime() > query.asOf.getTime()) return false;
  return true;
}

/**
 * The listing prefixes that cover a query, in catalog order. A name without a type becomes one prefix per type so
 * it still needs no scan of the whole vault.
 */
export function prefixesForQuery(query: BackupPrefixQuery): string[] {
  if (query.vault === undefined) return [backupPrefix()];
  if (query.type === undefined && query.name !== undefined) {
    return OBJECT_TYPES.map((type) => backupPrefix({ vault: query.vault, type, name: query.name }));
  }
  return [backupPrefix(query)];
}

/** The listing prefix of one object's portable exports (`portable/<vault>/<type>/<name>/`), or of a vault's. */
export function portablePrefix(vault: string, type?: ObjectType, name?: string): string {
  const prefix = `${LAYOUT_ROOTS.portable}${segment(vault, 'vault')}/`;
  if (type === undefined) return prefix;
  return name === undefined ? `${prefix}${type}/` : `${prefix}${type}/${segment(name, 'name')}/`;
}

/**
 * The blob name of one envelope: per version, metadata digest and KEK version, so a changed attribute or a rewrap
 * under a new KEK version is a new blob and nothing is overwritten.
 */
export function envelopeBlobName(
  envelope: { vault: string; type: ObjectType; name: string; version: string; kek: { keyId: string } },
  digest: string,
): string {
  const kek = sha256Hex(envelope.kek.keyId).slice(0, 12);
  return `${portablePrefix(envelope.vault, envelope.type, envelope.name)}envelopes/${segment(envelope.version, 'version')}/${segment(digest, 'digest')}-${kek}.json`;
}

/** The blob name of one portable snapshot: newest first within the object's `snapshots/` folder. */
export function snapshotBlobName(snapshot: {
  vault: string;
  type: ObjectType;
  name: string;
  takenAt: string;
  runId: string;
}): string {
  return `${portablePrefix(snapshot.vault, snapshot.type, snapshot.name)}snapshots/${invertedTimestamp(new Date(snapshot.takenAt))}-${idSegment(snapshot.runId)}.json`;
}

/** What a portable blob name tells: whether it is a snapshot (and when) or an envelope. */
export function parsePortableBlobName(
  blobName: string,
): { kind: 'snapshot'; objectPrefix: string; takenAt: Date } | { kind: 'envelope'; objectPrefix: string } | undefined {
  const snapshot = /^(portable\/[^/]+\/[^/]+\/[^/]+\/)snapshots\/(\d{13})-[^/]+\.json$/.exec(blobName);
  if (snapshot) return { kind: 'snapshot', objectPrefix: snapshot[1]!, takenAt: fromInvertedTimestamp(snapshot[2]!) };
  const envelope = /^(portable\/[^/]+\/[^/]+\/[^/]+\/)envelopes\/[^/]+\/[^/]+\.json$/.exec(blobName);
  return envelope ? { kind: 'envelope', objectPrefix: envelope[1]! } : undefined;
}
