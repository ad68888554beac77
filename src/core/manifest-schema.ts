import { z } from 'zod';
import { schemaOf } from './schema-of';
import {
  objectTypeSchema,
  type ManifestEntry,
  type ObjectOutcome,
  type PortableEntry,
  type RunManifest,
  type RunStats,
} from './domain';

const objectType = objectTypeSchema;
const count = z.number().int().nonnegative();
const isoTime = z.iso.datetime({ offset: true });
const errorSummary = z.object({ code: z.string(), reason: z.string() });

const outcome = schemaOf<ObjectOutcome>()(
  z.discriminatedUnion('status', [
    z.object({
      status: z.literal('stored'),
      blobName: z.string(),
      sha256: z.string(),
      size: count,
      refreshed: z.boolean().optional(),
    }),
    z.object({ status: z.literal('unchanged'), blobName: z.string() }),
    z.object({ status: z.literal('failed'), code: z.string(), reason: z.string() }),
  ]),
);

const portableEntry = schemaOf<PortableEntry>()(
  z.object({
    status: z.enum(['exported', 'not-carried', 'failed']),
    snapshot: z.string().optional(),
    sealed: count.optional(),
    reused: count.optional(),
    code: z.string().optional(),
    reason: z.string().optional(),
  }),
);

const entry = schemaOf<ManifestEntry>()(
  z.object({
    type: objectType,
    name: z.string().min(1),
    versionCount: count,
    durationMs: z.number(),
    outcome,
    warning: z.string().optional(),
    portable: portableEntry.optional(),
  }),
);

const stats = schemaOf<RunStats>()(
  z.object({
    stored: count,
    unchanged: count,
    failed: count,
    bytes: count,
    durationMs: z.number(),
    throttled: count,
    maxConcurrency: count,
  }),
);

/** A run manifest (a chunk, an event snapshot or a run summary) as read back from storage. */
export const runManifestSchema = schemaOf<RunManifest>()(
  z.object({
    runId: z.string().min(1),
    vault: z.string().min(1),
    vaultUrl: z.string().min(1),
    trigger: z.enum(['schedule', 'manual', 'event']),
    full: z.boolean(),
    scope: z.enum(['chunk', 'objects', 'summary']),
    startedAt: isoTime,
    finishedAt: isoTime,
    chunk: z.object({ type: objectType, sequence: count, lastPage: z.boolean() }).optional(),
    followUp: z.number().int().min(1).optional(),
    entries: z.array(entry),
    error: errorSummary.optional(),
    stats,
  }),
);
