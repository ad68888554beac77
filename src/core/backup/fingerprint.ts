import { createHash } from 'node:crypto';
import type { CertificatePolicyState, ObjectSummary, ObjectVersion } from '../domain';

/** Hex SHA-256 of some bytes. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Fingerprint of everything a restore of an object brings back: its versions (any new version, or any change to a
 * version's attributes, which moves its `updated` time) and, for a certificate, its policy — a policy update moves
 * no version's `updated`, so the policy's own `updated` time and content are part of it. Incremental runs skip an
 * object whose fingerprint matches its newest backup. Without a policy the value is what it always was.
 * @param versions - the object's versions
 * @param policy - a certificate's policy as the vault port reads it
 */
export function versionsFingerprint(versions: readonly ObjectVersion[], policy?: CertificatePolicyState): string {
  const lines = versions.map((v) => `${v.version}|${v.updatedOn?.toISOString() ?? ''}|${v.enabled ? 1 : 0}`).sort();
  if (policy) lines.push(`policy|${policy.updatedOn?.toISOString() ?? ''}|${sha256Hex(canonicalJson(policy.content))}`);
  return sha256Hex(lines.join('\n'));
}

/** JSON with object keys sorted at every level (dates as ISO text), so equal content always hashes the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/**
 * Change token of an object from what its vault listing already carries: the current version's `updated` time
 * (a new version, enabling or disabling it, new tags or expiry all move it), enabled, tags, and — where the listing
 * has them — the current version id and a certificate's thumbprint. An incremental run backs up an object only when
 * this token differs from its newest backup's, so an unchanged object costs no Key Vault call beyond its page.
 * Edits to older versions do not move it: the periodic refresh (`KVGUARD_REFRESH_DAYS`) catches those.
 * A certificate's policy is not on its list page and a policy update moves nothing that is, so for a certificate
 * the policy (read with one call) is part of the token, as it is of {@link versionsFingerprint}.
 * @param summary - the object as its list page shows it
 * @param policy - a certificate's policy as the vault port reads it
 */
export function listingFingerprint(summary: ObjectSummary, policy?: CertificatePolicyState): string {
  const tags = Object.entries(summary.tags)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  const fields = [
    summary.updatedOn?.toISOString() ?? '',
    summary.enabled ? '1' : '0',
    summary.version ?? '',
    summary.thumbprint ?? '',
    JSON.stringify(tags),
  ];
  if (policy)
    fields.push(`policy:${policy.updatedOn?.toISOString() ?? ''}:${sha256Hex(canonicalJson(policy.content))}`);
  return sha256Hex(fields.join('|')).slice(0, 32);
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
