import { z } from 'zod';
import { OBJECT_TYPES, type ObjectType } from './domain';

const objectType = z.enum(OBJECT_TYPES as [ObjectType, ...ObjectType[]]);

/** Schema of a backup job message: one vault, or one chunk (one listing page of one type) of it. */
export const backupJobSchema = z
  .object({
    kind: z.literal('backup'),
    runId: z.string().min(1).max(100),
    vaultUrl: z.url(),
    trigger: z.enum(['schedule', 'manual', 'event']),
    full: z.boolean().default(false),
    /** The chunk to process; absent means "start with the first page of the first type". */
    chunk: z
      .object({
        type: objectType,
        sequence: z.number().int().min(0),
        continuationToken: z.string().optional(),
      })
      .strict()
      .optional(),
    /** Back up only these objects (event snapshots) instead of listing the vault. */
    objects: z
      .array(z.object({ type: objectType, name: z.string().min(1).max(127) }).strict())
      .max(100)
      .optional(),
    enqueuedAt: z.iso.datetime(),
  })
  .strict();

/** A backup job message, as it travels on the queue. */
export type BackupJob = z.infer<typeof backupJobSchema>;
