/**
 * A rate budget shared by every kvguard instance: the subscription allows about 5 × a vault's limit across all its
 * vaults (per region), and a fleet of Function instances, each pacing its own vaults, must not exceed it together.
 * The budget is a token bucket kept in the state store (one small document, updated with its etag): an instance
 * leases a few tokens at a time — {@link LEASE_SECONDS} of its last second's use — and spends them locally, so the
 * store sees a handful of writes per second however many calls are made. When a window's tokens are gone, takers
 * wait for the next window.
 */
import { z } from 'zod';
import { schemaOf } from '../../core/schema-of';
import { isKvGuardError } from '../../core/errors';
import type { Clock, StateStore } from '../../core/ports';
import type { SharedBudget } from './adaptive-limiter';

/** Length of one budget window. */
const WINDOW_MS = 1_000;
/** A lease covers about this much of the instance's own pace. */
const LEASE_SECONDS = 0.1;
/** Attempts to update the document when other instances race for it. */
const RACE_ATTEMPTS = 8;

/** The stored bucket: tokens handed out in the current window. */
interface BudgetWindow {
  windowStart: number;
  used: number;
}

/** The bucket as read back from the state store. */
const budgetWindowSchema = schemaOf<BudgetWindow>()(z.object({ windowStart: z.number(), used: z.number() }));

/** Options of {@link createSharedBudget}. */
export interface SharedBudgetOptions {
  state: StateStore;
  /** Document key, e.g. `budget/westeurope`. */
  key: string;
  /** Operations per second every instance together may start. */
  perSecond: number;
  clock: Clock;
}

/** A {@link SharedBudget} kept in the state store (see the module comment). */
export function createSharedBudget(options: SharedBudgetOptions): SharedBudget {
  const { state, key, perSecond, clock } = options;
  const perWindow = Math.max(1, Math.floor((perSecond * WINDOW_MS) / 1000));
  let stock = 0;
  /** Leased tokens belong to their window: left over when it ends, they are dropped, never carried into the next. */
  let stockWindow = -1;
  let takenThisSecond = 0;
  let takenLastSecond = 0;
  let secondStart = 0;
  let leasing: Promise<void> | undefined;

  /** Leases tokens from the current window, or waits for the next one when it is spent. */
  const lease = async (): Promise<void> => {
    for (;;) {
      const pace = Math.max(takenThisSecond, takenLastSecond, 10);
      const want = Math.max(1, Math.min(perWindow, Math.ceil(pace * LEASE_SECONDS)));
      for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
        const now = clock.now().getTime();
        const windowStart = now - (now % WINDOW_MS);
        const current = await state.read(key, budgetWindowSchema);
        const used = current && current.value.windowStart === windowStart ? current.value.used : 0;
        const granted = Math.min(want, perWindow - used);
        if (granted <= 0) break;
        try {
          await state.write<BudgetWindow>(
            key,
            { windowStart, used: used + granted },
            { etag: current ? current.etag : null },
          );
          if (stockWindow !== windowStart) stock = 0;
          stock += granted;
          stockWindow = windowStart;
          return;
        } catch (error) {
          if (!isKvGuardError(error, 'Conflict', 'AlreadyExists')) throw error;
        }
      }
      const now = clock.now().getTime();
      await clock.sleep(WINDOW_MS - (now % WINDOW_MS));
    }
  };

  return {
    async take(): Promise<void> {
      const at = clock.now().getTime();
      if (at - (at % WINDOW_MS) !== stockWindow) stock = 0;
      while (stock <= 0) {
        leasing ??= lease().finally(() => (leasing = undefined));
        await leasing;
      }
      stock -= 1;
      const now = clock.now().getTime();
      if (now - secondStart >= 1000) {
        secondStart = now;
        takenLastSecond = takenThisSecond;
        takenThisSecond = 0;
      }
      takenThisSecond += 1;
    },
  };
}
