import { createHash } from 'node:crypto';
import type { ObjectVersion } from '../domain';

/** Hex SHA-256 of some bytes. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Fingerprint of an object's versions: any new version, or any change to a version's attributes (which moves its
 * `updated` time), changes it. Incremental runs skip an object whose fingerprint matches its newest backup.
 */
export function versionsFingerprint(versions: readonly ObjectVersion[]): string {
  const lines = versions.map((v) => `${v.version}|${v.updatedOn?.toISOString() ?? ''}|${v.enabled ? 1 : 0}`).sort();
  return sha256Hex(lines.join('\n'));
}

/** A sortable, unique run id: UTC time to the second plus a random suffix. */
export function newRunId(now: Date, random: () => number = Math.random): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.floor(random() * 0xffffff)
    .toString(16)
    .padStart(6, '0')}`;
}

/** The start of a run, read back from its id (second precision); undefined for an id not made by {@link newRunId}. */
export function runStartFromId(runId: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/.exec(runId);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match;
  return new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
}
