/**
 * The format of the JSON documents kvguard keeps in storage (run manifests, audit entries, state documents), shared
 * by the blob stores and their in-memory twins. Each document carries `formatVersion` next to its own fields and is
 * checked against a schema when read back: a document that does not match is an `IntegrityError` naming the blob and
 * the problem, never a crash on a missing field and never silently accepted.
 *
 * Documents written before format versions existed carry none; their shape is that of version 1, so they are read
 * as version 1. A document from a newer kvguard (a higher version) is refused rather than misread.
 */
import { z } from 'zod';
import type { RunManifest } from '../core/domain';
import { issues } from '../core/events/envelope';
import { isKvGuardError, KvGuardError } from '../core/errors';
import { runManifestSchema } from '../core/manifest-schema';
import type { AuditEntry, Logger } from '../core/ports';

/** The format version this kvguard writes, and the highest it reads. */
export const STORED_FORMAT_VERSION = 1;

/** The bytes of a stored document: its fields plus `formatVersion`. */
export function encodeStoredDocument(value: object): Buffer {
  return Buffer.from(JSON.stringify({ ...value, formatVersion: STORED_FORMAT_VERSION }), 'utf8');
}

/**
 * Reads a stored document back: parses it, checks its format version, validates it against `schema`, and answers
 * it without `formatVersion`. Throws `IntegrityError` naming `blobName` when any of that fails.
 * @param blobName - where the document was read from (for the message)
 * @param text - the document's content
 * @param schema - the shape the reader relies on
 */
export function decodeStoredDocument<T>(blobName: string, text: string, schema: z.ZodType<T>): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw unreadable(blobName, 'is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw unreadable(blobName, 'is not a JSON object');
  }
  const { formatVersion = 1, ...fields } = parsed as { formatVersion?: unknown };
  if (typeof formatVersion !== 'number' || !Number.isInteger(formatVersion) || formatVersion < 1) {
    throw unreadable(blobName, `has formatVersion ${JSON.stringify(formatVersion)}, which is not a version number`);
  }
  if (formatVersion > STORED_FORMAT_VERSION) {
    throw unreadable(
      blobName,
      `is in format version ${formatVersion}, written by a newer kvguard; this one reads up to ${STORED_FORMAT_VERSION}`,
    );
  }
  const result = schema.safeParse(fields);
  if (!result.success) throw unreadable(blobName, `does not match its schema (${issues(result.error)})`);
  return result.data;
}

/**
 * A run manifest read back and checked, or undefined when it cannot be read: the container is immutable, so a
 * damaged manifest can never be removed and must not break every listing after it; it is reported and skipped.
 * @param blobName - where it was read from
 * @param bytes - its content
 * @param logger - where a skipped manifest is reported
 */
export function readStoredManifest(blobName: string, bytes: Uint8Array, logger: Logger): RunManifest | undefined {
  try {
    return decodeStoredDocument(blobName, Buffer.from(bytes).toString('utf8'), runManifestSchema);
  } catch (error) {
    if (!isKvGuardError(error, 'IntegrityError')) throw error;
    logger.warn('Run manifest that cannot be read skipped', { blobName, reason: error.message });
    return undefined;
  }
}

/** An audit entry as the restore and drill history reads it back (unknown fields are kept). */
export const auditEntrySchema: z.ZodType<AuditEntry> = z.looseObject({
  action: z.enum(['restore', 'drill']),
  at: z.string(),
  principal: z.string(),
  requestId: z.string(),
  dryRun: z.boolean(),
  source: z.looseObject({ vault: z.string(), asOf: z.string().optional(), backup: z.string().optional() }),
  target: z.looseObject({ vault: z.string() }),
  objects: z.array(
    z.looseObject({
      type: z.enum(['secret', 'key', 'certificate']),
      name: z.string(),
      outcome: z.string(),
      reason: z.string().optional(),
    }),
  ),
  outcome: z.string(),
});

function unreadable(blobName: string, problem: string): KvGuardError {
  return new KvGuardError('IntegrityError', `stored document ${JSON.stringify(blobName)} ${problem}`);
}
