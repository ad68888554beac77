/** The emulator clock: real time plus an offset tests can move forward to reach near-expiry and expiry. */

/** A clock the emulator stamps objects with and checks expiry against. */
export interface EmulatorClock {
  // Function-valued properties, not methods: callers pass `clock.now` around detached.
  now: () => Date;
  advance: (ms: number) => void;
}

/** A clock starting at real time; `onAdvance` runs after every move. */
export function createClock(onAdvance: () => void): EmulatorClock & { nowSeconds: () => number } {
  let offsetMs = 0;
  return {
    now: () => new Date(Date.now() + offsetMs),
    nowSeconds: () => Math.floor((Date.now() + offsetMs) / 1000),
    advance(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`clock.advance needs a non-negative number, got ${ms}`);
      offsetMs += ms;
      onAdvance();
    },
  };
}
