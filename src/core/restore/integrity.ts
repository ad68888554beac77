import { sha256Hex } from '../backup/fingerprint';
import type { BackupRecord } from '../domain';
import { KvGuardError } from '../errors';
import type { BackupStore } from '../ports';

/**
 * Checks backup bytes against their catalog entry (SHA-256 and size); throws `IntegrityError` on a mismatch.
 * Only hashes appear in the message, never the bytes.
 * @param record - the catalog entry the bytes must match
 * @param bytes - the blob content as read from storage
 */
export function checkIntegrity(record: Pick<BackupRecord, 'blobName' | 'sha256' | 'size'>, bytes: Uint8Array): void {
  const actual = sha256Hex(bytes);
  if (actual !== record.sha256.toLowerCase()) {
    throw new KvGuardError(
      'IntegrityError',
      `backup blob ${JSON.stringify(record.blobName)} has SHA-256 ${actual}, but the catalog recorded ${record.sha256}: refusing to use it`,
    );
  }
  if (bytes.byteLength !== record.size) {
    throw new KvGuardError(
      'IntegrityError',
      `backup blob ${JSON.stringify(record.blobName)} holds ${bytes.byteLength} bytes, but the catalog recorded ${record.size}: refusing to use it`,
    );
  }
}

/**
 * Reads a backup blob and checks it against the catalog entry it was chosen by; answers the verified bytes.
 * @param store - the backup store
 * @param record - the catalog entry (from a listing)
 */
export async function readVerifiedBackup(
  store: BackupStore,
  record: Pick<BackupRecord, 'blobName' | 'sha256' | 'size'>,
): Promise<Uint8Array> {
  const { bytes } = await store.readBackup(record.blobName);
  checkIntegrity(record, bytes);
  return bytes;
}
