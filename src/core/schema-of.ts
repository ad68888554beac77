import type { z } from 'zod';

/** True only when A and B are the same type, optional fields included (assignability ignores a missing optional one). */
type SameType<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;

/** What the compiler names when a schema leaves out a field of its type. */
interface SchemaOmitsFields {
  'the schema does not name every field of its type; zod would strip the missing ones from each document read': never;
}

/**
 * Ties a zod schema to the type it reads back, so the schema cannot silently drop a field: a schema merely typed
 * `z.ZodType<T>` compiles without an optional field of T, and zod then strips that field from every stored document
 * it reads (how `refreshed` and `followUp` were once lost). Usage: `schemaOf<RunManifest>()(z.object({ … }))`.
 */
export function schemaOf<T>() {
  return <S extends z.ZodType<T>>(
    schema: S & (SameType<z.output<S>, T> extends true ? unknown : SchemaOmitsFields),
  ): S => schema;
}
