import { describe, expect, it } from 'vitest';
import { timeFlag } from '../../src/cli/flags';

describe('CLI time flags', () => {
  it('refuses a time that is not ISO 8601 with a time zone, naming the flag and the field', async () => {
    expect(timeFlag('2026-12-01T10:00:00Z', '--as-of', 'asOf')).toBe('2026-12-01T10:00:00Z');
    expect(() => timeFlag('last tuesday', '--as-of', 'asOf')).toThrow(
      /--as-of "last tuesday" must be an ISO 8601 date-time/,
    );
    expect(() => timeFlag('2026-12-01T10:00:00', '--to', 'to')).toThrow(expect.objectContaining({ field: 'to' }));
  });
});
