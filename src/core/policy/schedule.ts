import { mapWithConcurrency } from '../concurrency';
import type { VaultTarget } from '../domain';
import type { Logger } from '../ports';
import { parseNcrontab } from '../../ncrontab';
import { pauseState, type VaultTagReader } from './pause';

/** How far before a tick a vault's own occurrence still counts as due on it (the timer fires a little late). */
const TICK_TOLERANCE_MS = 1_000;

/**
 * Whether a vault's own schedule falls on the backup timer's current tick: it has an occurrence after the timer's
 * previous tick and no later than now. A vault without a schedule is due on every tick. The timer
 * (`KVGUARD_BACKUP_SCHEDULE`) must therefore tick at least as often as the most frequent vault schedule.
 * @param target - the vault and its policy
 * @param timerSchedule - the timer's NCRONTAB schedule
 * @param now - the tick's instant
 */
export function isDueOnTick(target: Pick<VaultTarget, 'policy'>, timerSchedule: string, now: Date): boolean {
  const schedule = target.policy?.schedule;
  if (!schedule) return true;
  const reference = new Date(now.getTime() + TICK_TOLERANCE_MS);
  const [, previousTick] = parseNcrontab(timerSchedule).previousRuns(2, reference);
  const since = previousTick ?? new Date(now.getTime() - 86_400_000);
  const next = parseNcrontab(schedule).nextRun(since);
  return next !== null && next.getTime() <= reference.getTime();
}

/** A vault the timer did not enqueue this tick, and why. */
export interface SkippedVault {
  vault: string;
  reason: string;
}

/**
 * Splits the configured vaults into those the backup timer enqueues now and those it skips: paused (by setting or
 * by the vault tag `kvguard:paused=true`) or not due on this tick by their own schedule.
 * @param targets - the configured vaults
 * @param options - the timer's schedule, the tick's instant, the vault-tag reader, a logger
 */
export async function vaultsDueOnTick(
  targets: readonly VaultTarget[],
  options: { timerSchedule: string; now: Date; tags: VaultTagReader; logger?: Logger },
): Promise<{ due: VaultTarget[]; skipped: SkippedVault[] }> {
  const due: VaultTarget[] = [];
  const skipped: SkippedVault[] = [];
  const states = await mapWithConcurrency(targets, TAG_READ_CONCURRENCY, (target) =>
    pauseState(target, options.tags, options.logger),
  );
  targets.forEach((target, i) => {
    const pause = states[i]!;
    if (pause.paused) skipped.push({ vault: target.name, reason: pause.reason! });
    else if (!isDueOnTick(target, options.timerSchedule, options.now))
      skipped.push({ vault: target.name, reason: `not due: its schedule is ${target.policy!.schedule}` });
    else due.push(target);
  });
  return { due, skipped };
}

/** Vault tags read at once by the fan-out. */
const TAG_READ_CONCURRENCY = 4;
