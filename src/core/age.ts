/**
 * A duration as people read it, in the unit that reads best: `45 s`, `3.6 min`, `5 h`, `2.5 d` (one decimal below
 * ten units, whole numbers above). Computed from milliseconds, never from an already rounded larger unit.
 * @param ms - the duration in milliseconds (negative durations are shown as their size)
 */
export function formatDuration(ms: number): string {
  const seconds = Math.abs(ms) / 1000;
  const units: [limit: number, size: number, unit: string][] = [
    [90, 1, 's'],
    [90 * 60, 60, 'min'],
    [48 * 3600, 3600, 'h'],
    [Number.POSITIVE_INFINITY, 86_400, 'd'],
  ];
  const [, size, unit] = units.find(([limit]) => seconds < limit)!;
  const value = seconds / size;
  const shown = unit === 's' || value >= 10 ? Math.round(value) : Math.round(value * 10) / 10;
  return `${shown} ${unit}`;
}

/**
 * How long ago an instant was, from timestamps: `formatDuration(now - then)`.
 * @param then - the earlier instant (a Date or ISO text)
 * @param now - the later instant
 */
export function ageOf(then: Date | string, now: Date): string {
  return formatDuration(now.getTime() - new Date(then).getTime());
}
