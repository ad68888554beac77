/**
 * Backup blobs: opaque to clients, sealed with AES-256-GCM under the emulator's master key and bound to the
 * subscription and location, as Key Vault binds backups to a subscription and geography.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { badParameter, type ObjectKind } from './errors';
import type { Vault } from './vault';
import type { StoredObject } from './vault-store';

/** What a backup holds: the object with all its versions, plus companions (a certificate's key and secret). */
export interface BackupContent {
  kind: ObjectKind;
  object: StoredObject<unknown>;
  companions: { kind: ObjectKind; object: StoredObject<unknown> }[];
}

interface SealedBackup extends BackupContent {
  format: 1;
  subscriptionId: string;
  location: string;
}

/** Key Vault refuses to back up objects with more versions than this. */
export const MAX_BACKUP_VERSIONS = 500;

const MAGIC = Buffer.from('KVEMUBK1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals `content` into a base64url blob; refuses objects with more than 500 versions. */
export function encodeBackup(vault: Vault, content: BackupContent): string {
  if (content.object.versions.length > MAX_BACKUP_VERSIONS) {
    // Key Vault documents the 500-version limit without publishing the exact error; BadParameter is our stand-in.
    throw badParameter(
      `Backup is not supported for objects with more than ${MAX_BACKUP_VERSIONS} versions; ` +
        `'${content.object.name}' has ${content.object.versions.length}.`,
    );
  }
  const sealed: SealedBackup = {
    format: 1,
    subscriptionId: vault.identity.subscriptionId,
    location: vault.identity.location,
    ...stripTransient(content),
  };
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', vault.backupKey, iv);
  cipher.setAAD(MAGIC);
  const body = Buffer.concat([cipher.update(JSON.stringify(sealed), 'utf8'), cipher.final()]);
  return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]).toString('base64url');
}

function stripTransient(content: BackupContent): BackupContent {
  const clean = (object: StoredObject<unknown>): StoredObject<unknown> => {
    const { deleted: _deleted, transition: _transition, ...rest } = object;
    return structuredClone(rest);
  };
  return {
    kind: content.kind,
    object: clean(content.object),
    companions: content.companions.map((companion) => ({ kind: companion.kind, object: clean(companion.object) })),
  };
}

/** Opens a blob for a restore of `kind` into `vault`, or answers the service's 400. */
export function decodeBackup(vault: Vault, kind: ObjectKind, value: string): BackupContent {
  const sealed = open(vault.backupKey, value);
  if (sealed.subscriptionId !== vault.identity.subscriptionId || sealed.location !== vault.identity.location) {
    throw badParameter('Cannot decrypt backup blob');
  }
  if (sealed.kind !== kind) throw corrupt();
  return { kind: sealed.kind, object: sealed.object, companions: sealed.companions };
}

function open(key: Buffer, value: string): SealedBackup {
  const raw = Buffer.from(value, 'base64url');
  if (raw.length <= MAGIC.length + IV_BYTES + TAG_BYTES || !raw.subarray(0, MAGIC.length).equals(MAGIC))
    throw corrupt();
  const iv = raw.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
  const tag = raw.subarray(MAGIC.length + IV_BYTES, MAGIC.length + IV_BYTES + TAG_BYTES);
  const body = raw.subarray(MAGIC.length + IV_BYTES + TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(MAGIC);
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    const sealed = JSON.parse(plain) as SealedBackup;
    if (sealed.format !== 1 || !sealed.object?.versions?.length) throw corrupt();
    return sealed;
  } catch {
    throw corrupt();
  }
}

/** The message the real service gives for a malformed or tampered blob (azure-sdk-for-js keyvault tests). */
function corrupt() {
  return badParameter('Backup blob contains invalid or corrupt version.');
}
