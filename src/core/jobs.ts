import { z } from 'zod';
import { objectTypeSchema } from './domain';

/** Objects one backup job may name (event snapshots, deadline follow-ups). */
export const MAX_JOB_OBJECTS = 100;
/** Follow-ups of follow-ups stop here: an object that misses this many deadlines waits for the next run. */
export const MAX_FOLLOW_UPS = 3;

const objectType = objectTypeSchema;

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
    /**
     * A check-back sent when the last page of a run finished before every page had reported: records the run
     * summary once they all have (sent again, later, up to a bound, while they have not).
     */
    summarise: z
      .object({ attempt: z.number().int().min(1).max(100) })
      .strict()
      .optional(),
    /** Back up only these objects (event snapshots) instead of listing the vault. */
    objects: z
      .array(z.object({ type: objectType, name: z.string().min(1).max(127) }).strict())
      .max(MAX_JOB_OBJECTS)
      .optional(),
    /** How many follow-ups deep this job is: objects that missed an earlier job's deadline. */
    followUp: z.number().int().min(1).max(MAX_FOLLOW_UPS).optional(),
    enqueuedAt: z.iso.datetime(),
  })
  .strict();

/** A backup job message, as it travels on the queue. */
export type BackupJob = z.infer<typeof backupJobSchema>;

/**
 * Schema of a restore job message. The request itself and its progress live in the state store under
 * `restore/<requestId>`, so the message stays small and a retried message resumes the same request.
 */
export const restoreJobSchema = z
  .object({ kind: z.literal('restore'), requestId: z.string().min(1).max(100) })
  .strict();

/** A restore job message, as it travels on the queue. */
export type RestoreJob = z.infer<typeof restoreJobSchema>;
