import { randomUUID } from 'node:crypto';
import { ALERT_TYPES } from './alerts';
import type { BackupDependencies } from './backup/backup-vault';
import { versionsFingerprint } from './backup/fingerprint';
import { latestBackupsAsOf } from './catalog';
import { mapWithConcurrency } from './concurrency';
import type { BackupRecord, ObjectType } from './domain';
import { describeError, KvGuardError } from './errors';
import type { BackupQuery, BackupStore, Clock, VaultPort } from './ports';
import { readVerifiedBackup } from './restore/integrity';
import { appendAuditEntry } from './restore/restore-audit';
import { restoreBlob } from './restore/restore-objects';
import type { VaultRef } from './restore/restore-request';

/** Blobs read and hashed at once by `verifyBackups`. */
const VERIFY_CONCURRENCY = 8;
/** Catalog entries gathered before a batch of blobs is read (bounds memory on large catalogs). */
const VERIFY_BATCH = 64;

/** One backup blob that failed verification. */
export interface VerifyFailure {
  blobName: string;
  vault: string;
  type: ObjectType;
  name: string;
  code: string;
  reason: string;
}

/** What `verifyBackups` found. */
export interface VerifyReport {
  status: 'passed' | 'failed' | 'incomplete';
  checked: number;
  passed: number;
  failed: VerifyFailure[];
  bytes: number;
  durationMs: number;
}

/**
 * Recomputes the SHA-256 (and size) of every stored backup matching the query and compares it with the catalog.
 * Stops reading new blobs at `deadline` (status `incomplete`).
 * @param deps - the backup store and a clock
 * @param query - which backups (vault, type, name, asOf); all when empty
 * @param options - a deadline
 */
export async function verifyBackups(
  deps: { store: BackupStore; clock: Clock },
  query: BackupQuery = {},
  options: { deadline?: Date } = {},
): Promise<VerifyReport> {
  const started = deps.clock.now().getTime();
  const report: VerifyReport = { status: 'passed', checked: 0, passed: 0, failed: [], bytes: 0, durationMs: 0 };
  const pastDeadline = () => options.deadline !== undefined && deps.clock.now().getTime() >= options.deadline.getTime();
  let batch: BackupRecord[] = [];
  const verifyBatch = async () => {
    await mapWithConcurrency(batch, VERIFY_CONCURRENCY, async (record) => {
      report.checked += 1;
      try {
        const bytes = await readVerifiedBackup(deps.store, record);
        report.bytes += bytes.byteLength;
        report.passed += 1;
      } catch (error) {
        report.failed.push({
          blobName: record.blobName,
          vault: record.vault,
          type: record.type,
          name: record.name,
          ...describeError(error),
        });
      }
    });
    batch = [];
  };
  for await (const record of deps.store.listBackups(query)) {
    if (pastDeadline()) {
      report.status = 'incomplete';
      break;
    }
    batch.push(record);
    if (batch.length >= VERIFY_BATCH) await verifyBatch();
  }
  if (report.status !== 'incomplete') await verifyBatch();
  if (report.failed.length > 0) report.status = 'failed';
  report.durationMs = deps.clock.now().getTime() - started;
  return report;
}

/** What a drill needs: the same ports as a backup. */
export type DrillDependencies = BackupDependencies;

/** What to drill. */
export interface DrillOptions {
  /** The vaults whose newest backups are sampled. */
  sources: VaultRef[];
  /** The scratch vault restored into: same subscription and geography as the sources, no purge protection. */
  scratchVaultUrl: string;
  /** How many objects to restore (all when larger than the catalog). */
  sample: number;
  /** Who runs it (audited): `timer`, or the CLI user. */
  principal: string;
  /** How long the whole drill may take. */
  deadlineSeconds: number;
  /** How long to keep retrying a restore that Key Vault refuses with 409 right after a purge. */
  purgeSettleSeconds: number;
  /** Random source for the sample (tests pass a fixed one). */
  random?: () => number;
}

/** One object of a drill. */
export interface DrillObjectResult {
  vault: string;
  type: ObjectType;
  name: string;
  blobName: string;
  outcome: 'passed' | 'failed';
  /** Versions the catalog recorded. */
  expectedVersions: number;
  /** Versions that came back in the scratch vault. */
  restoredVersions?: number;
  /** Whether the restored versions (ids, updated times, enabled) match the backup's fingerprint. */
  fingerprintMatches?: boolean;
  /** Whether the backup was restored into the scratch vault at all (a copy to clean up exists only then). */
  restored: boolean;
  /** Whether the scratch copy was deleted and purged again (true when nothing was restored: nothing to clean). */
  cleanedUp: boolean;
  code?: string;
  reason?: string;
}

/** What a drill did. */
export interface DrillReport {
  drillId: string;
  status: 'passed' | 'failed' | 'empty';
  scratchVault: string;
  startedAt: string;
  finishedAt: string;
  sampled: number;
  passed: number;
  failed: number;
  objects: DrillObjectResult[];
  audit?: string;
}

/** Objects drilled at once (each is a restore, a listing, a delete and a purge in the scratch vault). */
const DRILL_CONCURRENCY = 2;

/**
 * A restore drill: restores a random sample of the newest backups into a scratch vault, checks that every version
 * came back, then deletes and purges the scratch copies. Audits the drill, sends telemetry, and raises a critical
 * alert when any object fails.
 * @param deps - vaults, store, alerts, telemetry, logger, clock
 * @param options - sources, scratch vault, sample size, principal, deadline
 */
export async function runRestoreDrill(deps: DrillDependencies, options: DrillOptions): Promise<DrillReport> {
  const started = deps.clock.now();
  const drillId = randomUUID();
  const scratch = deps.vaults.open(options.scratchVaultUrl, {
    deadline: new Date(started.getTime() + options.deadlineSeconds * 1000),
  });
  const candidates: BackupRecord[] = [];
  for (const source of options.sources)
    candidates.push(...(await latestBackupsAsOf(deps.store, { vault: source.name })).latest);
  const sample = pickSample(candidates, options.sample, options.random ?? Math.random);
  const objects = await mapWithConcurrency(sample, DRILL_CONCURRENCY, (record) =>
    drillOne(deps, scratch, record, options.purgeSettleSeconds),
  );
  const failed = objects.filter((o) => o.outcome === 'failed').length;
  const report: DrillReport = {
    drillId,
    status: objects.length === 0 ? 'empty' : failed > 0 ? 'failed' : 'passed',
    scratchVault: scratch.url,
    startedAt: started.toISOString(),
    finishedAt: deps.clock.now().toISOString(),
    sampled: objects.length,
    passed: objects.length - failed,
    failed,
    objects,
  };
  report.audit = await appendAuditEntry(deps, {
    action: 'drill',
    principal: options.principal,
    requestId: drillId,
    dryRun: false,
    source: { vault: options.sources.map((s) => s.name).join(',') },
    target: { vault: scratch.name },
    objects: objects.map((o) => ({
      type: o.type,
      name: o.name,
      outcome: o.outcome,
      ...(o.reason ? { reason: o.reason } : {}),
    })),
    outcome: report.status,
  });
  deps.telemetry.event(
    'kvguard.drill',
    { drillId, status: report.status, scratchVault: scratch.name },
    {
      sampled: report.sampled,
      passed: report.passed,
      failed: report.failed,
      durationMs: Date.parse(report.finishedAt) - started.getTime(),
    },
  );
  if (failed > 0) await raiseDrillAlert(deps, report);
  return report;
}

/**
 * One sentence on a drill, true to what happened: a drill that restored nothing says so and why (the scratch vault
 * refused, say), since it then proves nothing about the backups either way.
 * @param report - the drill's report
 */
export function drillSummary(report: DrillReport): string {
  const head = `Restore drill ${report.drillId} into ${report.scratchVault}`;
  if (report.status === 'empty')
    return `${head} had nothing to restore: the catalog holds no backup of the drilled vaults`;
  const restored = report.objects.filter((o) => o.restored).length;
  if (restored === 0) {
    const reasons = [...new Set(report.objects.map((o) => `${o.code ?? 'Failed'}: ${o.reason ?? 'unknown'}`))];
    return `${head} restored nothing (${reasons.slice(0, 3).join('; ')}); it shows nothing about the backups until it can restore`;
  }
  if (report.status === 'passed')
    return `${head} passed: ${report.passed} of ${report.sampled} objects restored completely`;
  return `${head} failed for ${report.failed} of ${report.sampled} objects (${restored} restored): backups may not be restorable`;
}

/** A uniform random sample of `size` entries (Fisher-Yates on a copy), so drills cover the catalog over time. */
function pickSample<T>(items: readonly T[], size: number, random: () => number): T[] {
  const copy = [...items];
  const count = Math.min(size, copy.length);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, count);
}

async function drillOne(
  deps: DrillDependencies,
  scratch: VaultPort,
  record: BackupRecord,
  purgeSettleSeconds: number,
): Promise<DrillObjectResult> {
  const result: DrillObjectResult = {
    vault: record.vault,
    type: record.type,
    name: record.name,
    blobName: record.blobName,
    outcome: 'failed',
    expectedVersions: record.versionCount,
    restored: false,
    cleanedUp: false,
  };
  try {
    const bytes = await readVerifiedBackup(deps.store, record);
    const state = await scratch.nameState(record.type, record.name);
    if (state === 'live') {
      throw new KvGuardError(
        'Conflict',
        `scratch vault ${scratch.name} holds a live ${record.type} ${record.name}; drills never delete objects they did not restore`,
      );
    }
    // A soft-deleted leftover in the scratch vault (an earlier drill that could not purge) holds the name.
    if (state === 'deleted') await scratch.purge(record.type, record.name);
    await restoreBlob(
      deps.clock,
      scratch,
      record.type,
      record.name,
      bytes,
      state === 'deleted' ? purgeSettleSeconds * 1000 : 0,
    );
    result.restored = true;
    const versions = await scratch.listVersions(record.type, record.name);
    result.restoredVersions = versions.length;
    const policy = record.type === 'certificate' ? await scratch.certificatePolicy(record.name) : undefined;
    result.fingerprintMatches = versionsFingerprint(versions, policy) === record.fingerprint;
    if (record.versionsCounted !== false && record.versionCount > 0 && versions.length !== record.versionCount) {
      throw new KvGuardError('IntegrityError', `${versions.length} of ${record.versionCount} versions came back`);
    }
    result.outcome = 'passed';
  } catch (error) {
    Object.assign(result, describeError(error));
  }
  if (result.restored) await cleanUp(deps, scratch, record, result);
  else result.cleanedUp = true;
  deps.logger[result.outcome === 'passed' ? 'info' : 'warn']('restore drill object', {
    type: record.type,
    name: record.name,
    outcome: result.outcome,
    cleanedUp: result.cleanedUp,
    ...(result.code ? { code: result.code } : {}),
  });
  return result;
}

/** Deletes and purges a scratch copy; a copy left behind fails the object (the scratch vault must stay clean). */
async function cleanUp(
  deps: DrillDependencies,
  scratch: VaultPort,
  record: BackupRecord,
  result: DrillObjectResult,
): Promise<void> {
  try {
    await scratch.delete(record.type, record.name);
    await scratch.purge(record.type, record.name);
    result.cleanedUp = true;
  } catch (error) {
    const { code, reason } = describeError(error);
    result.outcome = 'failed';
    result.code ??= code;
    result.reason = `${result.reason ? `${result.reason}; ` : ''}scratch copy not cleaned up: ${reason}`;
    deps.logger.error('restore drill left a scratch copy behind', { type: record.type, name: record.name, code });
  }
}

async function raiseDrillAlert(deps: DrillDependencies, report: DrillReport): Promise<void> {
  const failures = report.objects.filter((o) => o.outcome === 'failed');
  await deps.alerts.raise({
    type: ALERT_TYPES.restoreDrillFailed,
    severity: 'critical',
    subject: report.scratchVault,
    summary: drillSummary(report),
    dedupeKey: `drill/${report.drillId}`,
    occurredAt: report.finishedAt,
    data: {
      drillId: report.drillId,
      failures: failures.map((f) => ({ vault: f.vault, type: f.type, name: f.name, code: f.code, reason: f.reason })),
    },
  });
}
