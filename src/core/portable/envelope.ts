/**
 * The portable envelope: one secret or certificate version sealed so that it can be carried to any vault in any
 * geography or tenant. A fresh 256-bit data key per envelope encrypts the value with AES-256-GCM; the envelope's
 * identity and metadata (vault, type, name, version, content type, tags, attributes) are its associated data, so an
 * envelope moved to another object, or with an edited attribute, fails authentication instead of restoring the wrong
 * thing. The data key leaves this module only wrapped by the key-encryption key (see {@link KeyWrapper}).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { schemaOf } from '../schema-of';
import { KvGuardError } from '../errors';
import type { KeyWrapper } from '../ports';

/** The envelope format this kvguard writes and reads. */
export const ENVELOPE_FORMAT = 'kvguard-portable-1';
/** How the data key is wrapped (Key Vault's RSA-OAEP with SHA-256). */
export const WRAP_ALGORITHM = 'RSA-OAEP-256';

/** The object types whose values can leave a vault: a key's private half never can. */
export type PortableType = 'secret' | 'certificate';

/** What is restored with a version besides its value (no secret material). */
export interface VersionMetadata {
  contentType?: string;
  tags: Record<string, string>;
  enabled: boolean;
  /** ISO instants. */
  expiresOn?: string;
  notBefore?: string;
  createdOn?: string;
}

/** One sealed version, as stored (JSON; binary fields base64). */
export interface PortableEnvelope {
  format: typeof ENVELOPE_FORMAT;
  vault: string;
  type: PortableType;
  name: string;
  version: string;
  metadata: VersionMetadata;
  /** The key-encryption key: its versioned key id, and the data key it wrapped. */
  kek: { keyId: string; algorithm: typeof WRAP_ALGORITHM; wrappedKey: string };
  cipher: { algorithm: 'A256GCM'; iv: string; tag: string; ciphertext: string };
  sealedAt: string;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const isoTime = z.iso.datetime({ offset: true });

/** Schema of a stored envelope. */
export const portableEnvelopeSchema = schemaOf<PortableEnvelope>()(
  z.object({
    format: z.literal(ENVELOPE_FORMAT),
    vault: z.string().min(1),
    type: z.enum(['secret', 'certificate']),
    name: z.string().min(1),
    version: z.string().min(1),
    metadata: z.object({
      contentType: z.string().optional(),
      tags: z.record(z.string(), z.string()),
      enabled: z.boolean(),
      expiresOn: isoTime.optional(),
      notBefore: isoTime.optional(),
      createdOn: isoTime.optional(),
    }),
    kek: z.object({ keyId: z.url(), algorithm: z.literal(WRAP_ALGORITHM), wrappedKey: base64 }),
    cipher: z.object({ algorithm: z.literal('A256GCM'), iv: base64, tag: base64, ciphertext: base64 }),
    sealedAt: isoTime,
  }),
);

/** What identifies a version and travels with it, bound into the envelope as associated data. */
export type SealedIdentity = Pick<PortableEnvelope, 'vault' | 'type' | 'name' | 'version' | 'metadata'>;

/**
 * The associated data of an envelope: its format, identity and metadata in a fixed field order (tags sorted), so
 * the same envelope always authenticates and any change to those fields does not.
 */
export function associatedData(identity: SealedIdentity): Buffer {
  const { metadata } = identity;
  return Buffer.from(
    JSON.stringify([
      ENVELOPE_FORMAT,
      identity.vault.toLowerCase(),
      identity.type,
      identity.name.toLowerCase(),
      identity.version,
      metadata.contentType ?? null,
      Object.entries(metadata.tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      metadata.enabled,
      metadata.expiresOn ?? null,
      metadata.notBefore ?? null,
      metadata.createdOn ?? null,
    ]),
    'utf8',
  );
}

/** A short digest of a version's metadata: an envelope is stored again only when it (or the version) changes. */
export function metadataDigest(identity: SealedIdentity): string {
  return createHash('sha256').update(associatedData(identity)).digest('hex').slice(0, 16);
}

const IV_BYTES = 12;
const DATA_KEY_BYTES = 32;

/**
 * Seals one version's value under a fresh data key, wrapped by the current KEK version. The plaintext and the data
 * key are wiped from memory before this returns.
 * @param identity - vault, type, name, version and metadata (bound as associated data)
 * @param value - the version's value (UTF-8 text as Key Vault holds it)
 * @param kek - wraps the data key
 * @param now - the sealing instant
 */
export async function sealVersion(
  identity: SealedIdentity,
  value: string,
  kek: KeyWrapper,
  now: Date,
): Promise<PortableEnvelope> {
  const dataKey = randomBytes(DATA_KEY_BYTES);
  const plaintext = Buffer.from(value, 'utf8');
  try {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
    cipher.setAAD(associatedData(identity));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const wrapped = await kek.wrap(dataKey);
    return {
      format: ENVELOPE_FORMAT,
      ...identity,
      kek: {
        keyId: wrapped.keyId,
        algorithm: WRAP_ALGORITHM,
        wrappedKey: Buffer.from(wrapped.wrappedKey).toString('base64'),
      },
      cipher: {
        algorithm: 'A256GCM',
        iv: iv.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
        ciphertext: ciphertext.toString('base64'),
      },
      sealedAt: now.toISOString(),
    };
  } finally {
    dataKey.fill(0);
    plaintext.fill(0);
  }
}

/**
 * The same envelope with its data key wrapped again by the KEK's current version: the ciphertext, tag and
 * associated data are untouched (the KEK is not part of the associated data), so the old KEK version can be retired.
 * @param envelope - an envelope wrapped by an older KEK version
 * @param kek - unwraps with the version the envelope names, wraps with the current one
 * @param now - the rewrapping instant (the new envelope's `sealedAt`)
 */
export async function rewrapEnvelope(
  envelope: PortableEnvelope,
  kek: KeyWrapper,
  now: Date,
): Promise<PortableEnvelope> {
  const dataKey = Buffer.from(await kek.unwrap(envelope.kek.keyId, Buffer.from(envelope.kek.wrappedKey, 'base64')));
  try {
    const wrapped = await kek.wrap(dataKey);
    return {
      ...envelope,
      kek: {
        keyId: wrapped.keyId,
        algorithm: WRAP_ALGORITHM,
        wrappedKey: Buffer.from(wrapped.wrappedKey).toString('base64'),
      },
      sealedAt: now.toISOString(),
    };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Opens an envelope: unwraps its data key with the KEK version it names, then decrypts and authenticates value and
 * associated data. Throws `IntegrityError` naming the envelope (never its content) when the KEK cannot unwrap the
 * data key or the authentication fails (a flipped tag or ciphertext, swapped identity or metadata).
 * @param envelope - the stored envelope
 * @param kek - unwraps the data key
 * @param where - names the envelope in messages (its blob name)
 */
export async function openEnvelope(envelope: PortableEnvelope, kek: KeyWrapper, where: string): Promise<string> {
  let dataKey: Uint8Array;
  try {
    dataKey = await kek.unwrap(envelope.kek.keyId, Buffer.from(envelope.kek.wrappedKey, 'base64'));
  } catch (error) {
    if (error instanceof KvGuardError && !['BadRequest', 'IntegrityError'].includes(error.code)) throw error;
    throw new KvGuardError(
      'IntegrityError',
      `envelope ${where}: the key-encryption key ${envelope.kek.keyId} could not unwrap its data key (wrong KEK, or a damaged envelope)`,
      { cause: error },
    );
  }
  const key = Buffer.from(dataKey);
  try {
    if (key.byteLength !== DATA_KEY_BYTES) throw new Error('unwrapped data key has the wrong length');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.cipher.iv, 'base64'));
    decipher.setAAD(associatedData(envelope));
    decipher.setAuthTag(Buffer.from(envelope.cipher.tag, 'base64'));
    const plaintext = Buffer.concat([
      decipher.update(Buffer.from(envelope.cipher.ciphertext, 'base64')),
      decipher.final(),
    ]);
    const value = plaintext.toString('utf8');
    plaintext.fill(0);
    return value;
  } catch (error) {
    throw new KvGuardError(
      'IntegrityError',
      `envelope ${where} failed authentication: its value, tag, identity or metadata was changed (or another KEK wrapped it)`,
      { cause: error },
    );
  } finally {
    key.fill(0);
    if (dataKey instanceof Buffer || dataKey instanceof Uint8Array) dataKey.fill(0);
  }
}
