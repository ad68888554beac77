import { z } from 'zod';
import { schemaOf } from '../schema-of';
import { dedupeStateKey } from '../alerts';
import type { ObjectType } from '../domain';
import { isKvGuardError } from '../errors';
import type { Clock, StateStore } from '../ports';

/** When a new-version event's snapshot runs: now (the window's first event), at the window's end, or not at all. */
export type SnapshotTiming = { kind: 'now' } | { kind: 'trailing'; delaySeconds: number } | { kind: 'coalesced' };

/** The state of one object's coalescing window. */
interface CoalesceWindow {
  endsAt: string;
  /** A trailing snapshot is queued for the window's end. */
  trailing: boolean;
}

/** A coalescing window as read back from the state store. */
const coalesceWindowSchema = schemaOf<CoalesceWindow>()(
  z.object({
    endsAt: z.iso.datetime({ offset: true }),
    trailing: z.boolean(),
  }),
);

/** Attempts to settle a window when other deliveries race for the same object. */
const RACE_ATTEMPTS = 4;

/**
 * Coalesces a burst of events about one object into at most two snapshots per window: the first event snapshots at
 * once (so a lone new version is stored within a second or two), every later event of the window shares one
 * snapshot queued for the window's end, which — running after the last of them — captures every version the burst
 * made. Key Vault backs up all versions in one call, so one snapshot per version would only spend the vault's budget
 * (each snapshot lists every version), which the applications using the vault share.
 * @param object - the vault, type and name the event is about
 * @param windowSeconds - length of a window, from its first event
 */
export async function coalesceSnapshot(
  state: StateStore,
  clock: Clock,
  object: { vault: string; type: ObjectType; name: string },
  windowSeconds: number,
): Promise<SnapshotTiming> {
  const key = dedupeStateKey('coalesce', `${object.vault}|${object.type}|${object.name.toLowerCase()}`);
  for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
    const now = clock.now();
    const current = await state.read(key, coalesceWindowSchema);
    try {
      if (!current || new Date(current.value.endsAt).getTime() <= now.getTime()) {
        const endsAt = new Date(now.getTime() + windowSeconds * 1000).toISOString();
        await state.write<CoalesceWindow>(key, { endsAt, trailing: false }, { etag: current?.etag ?? null });
        return { kind: 'now' };
      }
      if (current.value.trailing) return { kind: 'coalesced' };
      await state.write<CoalesceWindow>(key, { ...current.value, trailing: true }, { etag: current.etag });
      const delayMs = new Date(current.value.endsAt).getTime() - now.getTime();
      return { kind: 'trailing', delaySeconds: Math.max(1, Math.ceil(delayMs / 1000)) };
    } catch (error) {
      // Another delivery changed the window first: read it again and decide on what it did.
      if (!isKvGuardError(error, 'Conflict', 'AlreadyExists')) throw error;
    }
  }
  // Still racing: a snapshot of its own is the safe answer (it may only over-store).
  return { kind: 'now' };
}
