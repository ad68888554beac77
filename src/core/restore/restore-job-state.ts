import { z } from 'zod';
import { schemaOf } from '../schema-of';
import { objectTypeSchema } from '../domain';
import type { AbsentObject, ChosenBackup, PlannedObject } from './plan-restore';
import type { ObjectResult } from './restore-objects';
import type { RestoreReport } from './restore-report';
import type { RestoreRequest, VaultRef } from './restore-request';

const objectType = objectTypeSchema;
const conflictPolicy = z.enum(['fail', 'skip', 'recover', 'purge']);
const count = z.number().int().nonnegative();
const vaultRef = schemaOf<VaultRef>()(z.object({ name: z.string().min(1), url: z.string().min(1) }));

const request = schemaOf<RestoreRequest>()(
  z.object({
    source: vaultRef,
    target: vaultRef,
    objectType: objectType.optional(),
    name: z.string().optional(),
    asOf: z.string().optional(),
    backup: z.string().optional(),
    onConflict: conflictPolicy,
    dryRun: z.boolean(),
    format: z.literal('portable').optional(),
    targetName: z.string().optional(),
  }),
);

const chosenBackup = schemaOf<ChosenBackup>()(
  z.object({
    blobName: z.string().min(1),
    takenAt: z.string(),
    sha256: z.string(),
    size: count,
    versionCount: count,
  }),
);

const plannedShape = {
  type: objectType,
  name: z.string().min(1),
  backup: chosenBackup,
  targetState: z.enum(['free', 'live', 'deleted']),
  action: z.enum(['restore', 'purge-and-restore', 'recover', 'skip', 'conflict']),
  reason: z.string().optional(),
};
/** Checked against the type: a planned object's fields are a subset of a result's. */
const _planned = schemaOf<PlannedObject>()(z.object(plannedShape));
void _planned;

const outcome = z.enum(['restored', 'recovered', 'skipped', 'conflict', 'failed', 'planned']);
const objectResult = schemaOf<ObjectResult>()(
  z.object({
    ...plannedShape,
    outcome,
    reason: z.string().optional(),
    code: z.string().optional(),
    serviceCode: z.string().optional(),
    versions: count.optional(),
    restoreAttempts: count.optional(),
  }),
);

const absent = schemaOf<AbsentObject>()(z.object({ type: objectType, name: z.string(), reason: z.string() }));

const report = schemaOf<RestoreReport>()(
  z.object({
    requestId: z.string().min(1),
    status: z.enum(['queued', 'running', 'planned', 'succeeded', 'partial', 'failed', 'conflict']),
    dryRun: z.boolean(),
    onConflict: conflictPolicy,
    source: vaultRef,
    target: vaultRef,
    objectType: objectType.optional(),
    name: z.string().optional(),
    asOf: z.string().optional(),
    backup: z.string().optional(),
    progress: z.object({ total: count, done: count }),
    counts: z.record(outcome, count),
    objects: z.array(objectResult),
    absent: z.array(absent),
    error: z.object({ code: z.string(), reason: z.string() }).optional(),
    startedAt: z.string(),
    finishedAt: z.string().optional(),
    audit: z.string().optional(),
    format: z.literal('portable').optional(),
    notCarried: z.array(z.object({ type: objectType, name: z.string(), reason: z.string() })).optional(),
  }),
);

/** A queued restore as the state store keeps it: the request, who asked, and the report so far. */
export interface RestoreJobState {
  principal: string;
  /** The request, `asOf` pinned to when it was accepted so the job restores what was planned then. */
  request: RestoreRequest;
  /** Job invocations so far. */
  attempts: number;
  /** While an invocation works on the job, re-delivered messages wait until this instant. */
  leaseUntil?: string;
  report: RestoreReport;
}

/** A queued restore as read back from the state store. */
export const restoreJobStateSchema = schemaOf<RestoreJobState>()(
  z.object({
    principal: z.string(),
    request,
    attempts: count,
    leaseUntil: z.string().optional(),
    report,
  }),
);
