import type { BackupRecord, RetentionPolicy, VaultTarget } from '../domain';

const DAY_MS = 86_400_000;

/**
 * After how many days an unchanged object's newest backup is stored again ("full every N days"). Backups are
 * incremental, so a stable object's only copy grows old: before it can leave the retention window (`keepDays`) or
 * the storage's WORM window (after which a lifecycle rule or anyone with delete rights could remove it), a fresh
 * copy must exist. The refresh comes a margin early — one RPO plus a day, so runs may fail for a whole RPO without
 * the copy lapsing — but never earlier than half the window.
 * @param retention - the vault's retention policy
 * @param context - the WORM window in days (`KVGUARD_RETENTION_DAYS`) and the vault's RPO in hours
 * @returns days, or `Infinity` when no window limits a backup's life
 */
export function refreshAfterDays(retention: RetentionPolicy, context: { wormDays?: number; rpoHours: number }): number {
  const window = Math.min(retention.keepDays ?? Number.POSITIVE_INFINITY, context.wormDays ?? Number.POSITIVE_INFINITY);
  if (!Number.isFinite(window)) return Number.POSITIVE_INFINITY;
  const marginDays = context.rpoHours / 24 + 1;
  return Math.max(window / 2, window - marginDays);
}

/**
 * Whether an object whose versions have not changed must still be stored again, because its newest backup is
 * about to age out (see {@link refreshAfterDays}).
 * @param latest - the object's newest stored backup
 * @param target - the vault and its policy
 * @param now - the current instant
 */
export function mustRefresh(
  latest: Pick<BackupRecord, 'takenAt'>,
  target: Pick<VaultTarget, 'policy'>,
  now: Date,
): boolean {
  const after = target.policy?.refreshAfterDays ?? Number.POSITIVE_INFINITY;
  return Number.isFinite(after) && now.getTime() - latest.takenAt.getTime() >= after * DAY_MS;
}
