/**
 * Backup blobs: opaque to clients and shaped like the service's (recorded blobs are base64url of the marker
 * `&AzureKeyVaultKeyBackupV1.microsoft.com` followed by a compact JWE whose header names the sealing key's `kid`).
 * The emulator seals with AES-256-GCM (`dir`) under a key derived per subscription and geography, so a vault of
 * another subscription or geography cannot open the blob, as Key Vault's cannot.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { badParameter, cannotDecryptBackup, malformedBackup, type ObjectKind } from './errors';
import { geographyOf } from './geography';
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
}

/** Key Vault refuses to back up objects with more versions than this. */
export const MAX_BACKUP_VERSIONS = 500;

/** The marker every recorded Key Vault backup blob starts with (keys, secrets and certificates alike). */
export const BACKUP_MARKER = '&AzureKeyVaultKeyBackupV1.microsoft.com';
const IV_BYTES = 12;

interface SealingKey {
  kid: string;
  key: Buffer;
}

/** The key sealing backups of `vault`: one per subscription and geography, derived from the emulator's master key. */
function sealingKey(vault: Vault): SealingKey {
  const scope = `${vault.identity.subscriptionId.toLowerCase()}|${geographyOf(vault.identity.location)}`;
  const key = Buffer.from(hkdfSync('sha256', vault.backupKey, Buffer.alloc(0), `kvguard-backup|${scope}`, 32));
  // The kid only names the key, as the service's does (a GUID); it reveals neither the key nor the scope.
  const hash = createHash('sha256').update(key).digest('hex');
  const kid = `${hash.slice(0, 8)}-${hash.slice(8, 12)}-${hash.slice(12, 16)}-${hash.slice(16, 20)}-${hash.slice(20, 32)}`;
  return { kid, key };
}

/** Seals `content` into a blob; refuses objects with more than 500 versions. */
export function encodeBackup(vault: Vault, content: BackupContent): string {
  if (content.object.versions.length > MAX_BACKUP_VERSIONS) {
    // Key Vault documents the 500-version limit without publishing the exact error; BadParameter is our stand-in.
    throw badParameter(
      `Backup is not supported for objects with more than ${MAX_BACKUP_VERSIONS} versions; ` +
        `'${content.object.name}' has ${content.object.versions.length}.`,
    );
  }
  const sealed: SealedBackup = { format: 1, ...stripTransient(content) };
  const { kid, key } = sealingKey(vault);
  const header = Buffer.from(JSON.stringify({ kid, alg: 'dir', enc: 'A256GCM' })).toString('base64url');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(header, 'ascii'));
  const body = Buffer.concat([cipher.update(JSON.stringify(sealed), 'utf8'), cipher.final()]);
  const jwe = [
    header,
    '',
    iv.toString('base64url'),
    body.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
  ];
  return Buffer.from(BACKUP_MARKER + jwe.join('.'), 'ascii').toString('base64url');
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
  const text = Buffer.from(value, 'base64url').toString('latin1');
  if (!text.startsWith(BACKUP_MARKER)) throw malformedBackup();
  const parts = text.slice(BACKUP_MARKER.length).split('.');
  if (parts.length !== 5) throw malformedBackup();
  const [header, , iv, body, tag] = parts as [string, string, string, string, string];
  let kid: unknown;
  try {
    kid = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { kid?: unknown }).kid;
  } catch {
    throw malformedBackup();
  }
  const own = sealingKey(vault);
  // Another subscription's or geography's key: the service cannot decrypt it (azure-cli#8767).
  if (kid !== own.kid) throw cannotDecryptBackup();
  const sealed = open(own.key, header, iv, body, tag);
  if (sealed.kind !== kind) throw malformedBackup();
  return { kind: sealed.kind, object: sealed.object, companions: sealed.companions };
}

function open(key: Buffer, header: string, iv: string, body: string, tag: string): SealedBackup {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(header, 'ascii'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    const sealed = JSON.parse(plain) as SealedBackup;
    if (sealed.format !== 1 || !sealed.object?.versions?.length) throw malformedBackup();
    return sealed;
  } catch {
    throw malformedBackup();
  }
}
