import { mapWithConcurrency } from '../concurrency';
import { describeError } from '../errors';
import type { RetentionPlan } from './plan';

/**
 * The blob index tag kvguard sets on a backup its retention plan lets go. The storage account's lifecycle rule
 * deletes blobs carrying it (once their WORM window has passed); kvguard itself holds no delete right.
 */
export const PRUNABLE_TAG = { name: 'kvguard-prunable', value: 'true', since: 'kvguard-prunable-since' } as const;

/** Marks backup blobs for the storage's lifecycle management (blob index tags); never deletes. */
export interface PruneMarks {
  /** Tags one backup blob prunable (idempotent); `since` is the instant of this marking pass. */
  markPrunable(blobName: string, since: Date): Promise<void>;
  /**
   * Proves marking would work without marking anything (the doctor): rewrites one backup's tags unchanged.
   * Undefined when there is no backup to try it on yet.
   */
  checkTagging(): Promise<{ blobName: string } | undefined>;
}

/** What marking a plan did. */
export interface MarkResult {
  vault: string;
  marked: number;
  failed: { blobName: string; code: string; reason: string }[];
}

/** Blobs tagged at once. */
const MARK_CONCURRENCY = 8;

/**
 * Tags every blob the plan prunes, so the lifecycle rule can remove it; a blob that cannot be tagged is reported
 * and the rest go on (the next pass tries it again).
 * @param plan - a retention plan from `retentionPlan`
 * @param marks - the tagging port
 * @param at - the instant recorded as `kvguard-prunable-since`
 */
export async function markPrunable(plan: RetentionPlan, marks: PruneMarks, at: Date): Promise<MarkResult> {
  const blobs = plan.objects.flatMap((o) => o.prune.map((p) => p.blobName));
  const outcomes = await mapWithConcurrency(blobs, MARK_CONCURRENCY, (blobName) =>
    marks.markPrunable(blobName, at).then(
      () => undefined,
      (error: unknown) => ({ blobName, ...describeError(error) }),
    ),
  );
  const failed = outcomes.filter((o) => o !== undefined);
  return { vault: plan.vault, marked: blobs.length - failed.length, failed };
}
