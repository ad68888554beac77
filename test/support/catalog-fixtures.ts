/** Catalog test data: backup records that match their bytes, run manifests, and a way to drain async listings. */
import { z } from 'zod';
import { sha256Hex } from '../../src/core/backup/fingerprint';
import { emptyRunStats, type BackupRecord, type RunManifest } from '../../src/core/domain';

/**
 * A catalog entry for `bytes` (its real SHA-256 and size), as the backup use case would write it.
 * @param bytes - the backup content the record describes
 * @param takenAt - when the backup was taken (ISO string)
 * @param overrides - fields to change (vault `demo`, key `DB-Key` by default)
 */
export function backupRecordOf(
  bytes: Uint8Array,
  takenAt: string,
  overrides: Partial<Omit<BackupRecord, 'blobName'>> = {},
): Omit<BackupRecord, 'blobName'> {
  return {
    vault: 'demo',
    type: 'key',
    name: 'DB-Key',
    fingerprint: sha256Hex(`${overrides.name ?? 'DB-Key'}@${takenAt}`),
    sha256: sha256Hex(bytes),
    size: bytes.byteLength,
    versionCount: 1,
    takenAt: new Date(takenAt),
    runId: 'run-1',
    kvguardVersion: '0.1.0',
    ...overrides,
  };
}

/** A run summary of one vault with no entries. */
export function runSummaryOf(vault: string, startedAt: string, runId: string): RunManifest {
  return {
    runId,
    vault,
    vaultUrl: `https://${vault}.vault.azure.net/`,
    trigger: 'schedule',
    full: false,
    scope: 'summary',
    startedAt,
    finishedAt: startedAt,
    entries: [],
    stats: emptyRunStats(),
  };
}

/** Every item of an async listing, in order. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** A reader's schema for tests that only move a state document around: any JSON object. */
export const anyDocument = z.record(z.string(), z.unknown());
