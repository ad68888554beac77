import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { schemaOf } from '../../src/core/schema-of';

interface Stored {
  name: string;
  refreshed?: boolean;
}

describe('schemaOf', () => {
  it('accepts a schema naming every field, and answers that same schema', () => {
    const schema = z.object({ name: z.string(), refreshed: z.boolean().optional() });
    expect(schemaOf<Stored>()(schema)).toBe(schema);
    expect(schema.parse({ name: 'a', refreshed: true })).toEqual({ name: 'a', refreshed: true });
  });

  it('refuses at compile time a schema that leaves out an optional field, which zod would strip', () => {
    const partial = z.object({ name: z.string() });
    // `npm run typecheck` fails here if schemaOf ever lets the partial schema through (the directive goes unused).
    // @ts-expect-error the schema does not name `refreshed`
    schemaOf<Stored>()(partial);
    // What the compile-time check prevents: the field silently gone from a document read back.
    expect(partial.parse({ name: 'a', refreshed: true })).toEqual({ name: 'a' });
  });
});
