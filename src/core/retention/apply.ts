import type { VaultTarget } from '../domain';
import type { BackupStore, Clock } from '../ports';
import { markPrunable, type MarkResult, type PruneMarks } from './marks';
import { retentionPlan, type RetentionPlan } from './plan';

/** One vault's retention pass: its plan and, when marking was asked for, what was marked. */
export type RetentionPass = RetentionPlan & { marks?: MarkResult };

/**
 * Plans retention for each vault in turn and, with `marks`, tags what may go for the storage lifecycle rule.
 * kvguard never deletes. A failing catalog read stops the pass; marking is idempotent, so the next pass resumes.
 * @param targets - the vaults
 * @param deps - catalog, prune marks (absent: plan only), clock
 */
export async function applyRetention(
  targets: readonly VaultTarget[],
  deps: { store: BackupStore; marks?: PruneMarks; clock: Clock },
): Promise<RetentionPass[]> {
  const passes: RetentionPass[] = [];
  for (const target of targets) {
    const plan = await retentionPlan(deps.store, target, deps.clock);
    passes.push(deps.marks ? { ...plan, marks: await markPrunable(plan, deps.marks, deps.clock.now()) } : plan);
  }
  return passes;
}
