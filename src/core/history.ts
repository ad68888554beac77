import { ageOf } from './age';
import { KvGuardError } from './errors';
import type { AlertOutbox, AuditEntry, BackupStore, OutboxEntry } from './ports';

/** One restore request as the history shows it: its newest audit entry, with counts per object outcome. */
export interface RestoreHistoryItem {
  requestId: string;
  at: string;
  principal: string;
  dryRun: boolean;
  source: AuditEntry['source'];
  target: AuditEntry['target'];
  /** The audited outcome (`completed`, `partial`, `failed: …`, `refused: …`). */
  outcome: string;
  objects: number;
  /** Objects per outcome (`restored`, `skipped`, `failed` …). */
  counts: Record<string, number>;
  /** The audit blob this item comes from. */
  audit: string;
}

/** Restores per page unless asked otherwise, and at most. */
export const DEFAULT_HISTORY_LIMIT = 20;
export const MAX_HISTORY_LIMIT = 200;

/** Audit entries one listing reads at most (a request may have several: started, finished). */
const MAX_AUDIT_READ = 2_000;

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
    throw new KvGuardError('ValidationError', `limit ${limit} must be an integer from 1 to ${MAX_HISTORY_LIMIT}`, {
      field: 'limit',
    });
  }
  return limit;
}

function historyItem(entry: AuditEntry & { blobName: string }): RestoreHistoryItem {
  const counts: Record<string, number> = {};
  for (const object of entry.objects) counts[object.outcome] = (counts[object.outcome] ?? 0) + 1;
  return {
    requestId: entry.requestId,
    at: entry.at,
    principal: entry.principal,
    dryRun: entry.dryRun,
    source: entry.source,
    target: entry.target,
    outcome: entry.outcome,
    objects: entry.objects.length,
    counts,
    audit: entry.blobName,
  };
}

/**
 * Recent audited actions of one kind, newest first, one per request id (its newest entry: a finished restore's
 * record supersedes its start), read from the audit log (synchronous restores included).
 * @param store - the backup store holding the audit log
 * @param options - `action` (default `restore`) and `limit`
 */
export async function listRestores(
  store: BackupStore,
  options: { limit?: number; action?: AuditEntry['action'] } = {},
): Promise<RestoreHistoryItem[]> {
  const limit = checkLimit(options.limit ?? DEFAULT_HISTORY_LIMIT);
  const action = options.action ?? 'restore';
  const items = new Map<string, RestoreHistoryItem>();
  let read = 0;
  for await (const entry of store.listAudit()) {
    if (++read > MAX_AUDIT_READ) break;
    if (entry.action !== action || items.has(entry.requestId)) continue;
    if (items.size === limit) break;
    items.set(entry.requestId, historyItem(entry));
  }
  return [...items.values()];
}

/** A restore request as its audit records tell it (for requests that never had a queued job's progress). */
export interface AuditedRestore extends RestoreHistoryItem {
  /** Every audited object with its outcome and reason. */
  objectOutcomes: AuditEntry['objects'];
  /** Every audit record of the request, newest first. */
  records: { at: string; outcome: string; audit: string }[];
}

/**
 * A restore request from its audit records; `NotFound` when the audit log holds none.
 * @param store - the backup store holding the audit log
 * @param requestId - the request id POST /api/restore answered
 */
export async function auditedRestore(store: BackupStore, requestId: string): Promise<AuditedRestore> {
  const records: (AuditEntry & { blobName: string })[] = [];
  for await (const entry of store.listAudit({ requestId })) if (entry.requestId === requestId) records.push(entry);
  const newest = records[0];
  if (!newest)
    throw new KvGuardError('NotFound', `no restore request with id ${JSON.stringify(requestId)}`, { field: 'id' });
  return {
    ...historyItem(newest),
    objectOutcomes: newest.objects,
    records: records.map((r) => ({ at: r.at, outcome: r.outcome, audit: r.blobName })),
  };
}

/** One alert as the history shows it. */
export interface AlertHistoryItem {
  type: string;
  severity: string;
  subject: string;
  summary: string;
  occurredAt: string;
  recordedAt: string;
  status: OutboxEntry['status'];
  /** How long ago it was recorded (`5 min`, `2 h` …). */
  age: string;
  deliveries: OutboxEntry['deliveries'];
  parkedReason?: string;
  finishedAt?: string;
}

/** Recent alerts and where their delivery stands. */
export interface AlertHistory {
  /** Alerts still waiting for a sink (retried by the timer). */
  pending: number;
  /** Alerts given up on, among the recent ones. */
  parked: number;
  items: AlertHistoryItem[];
}

/**
 * Recent alerts from the outbox: pending ones first, then delivered and parked ones newest first.
 * @param outbox - the alert outbox
 * @param now - for the ages
 * @param limit - how many alerts at most
 */
export async function recentAlerts(
  outbox: AlertOutbox,
  now: Date,
  limit = DEFAULT_HISTORY_LIMIT,
): Promise<AlertHistory> {
  const entries = await outbox.recent(checkLimit(limit));
  const items = entries.map((e) => ({
    type: e.alert.type,
    severity: e.alert.severity,
    subject: e.alert.subject,
    summary: e.alert.summary,
    occurredAt: e.alert.occurredAt,
    recordedAt: e.recordedAt,
    status: e.status,
    age: ageOf(e.recordedAt, now),
    deliveries: e.deliveries,
    ...(e.parkedReason ? { parkedReason: e.parkedReason } : {}),
    ...(e.finishedAt ? { finishedAt: e.finishedAt } : {}),
  }));
  return {
    pending: items.filter((i) => i.status === 'pending').length,
    parked: items.filter((i) => i.status === 'parked').length,
    items,
  };
}

/** What status shows of the alerts: counts among the recent ones, and those not delivered (pending or parked). */
export interface AlertSummary {
  pending: number;
  parked: number;
  undelivered: AlertHistoryItem[];
}

/** Alerts recent enough for status to show. */
const STATUS_ALERTS = 50;

/**
 * The alerts status shows: how many are pending or parked among the recent ones, and which.
 * @param outbox - the alert outbox
 * @param now - for the ages
 */
export async function alertSummary(outbox: AlertOutbox, now: Date): Promise<AlertSummary> {
  const { pending, parked, items } = await recentAlerts(outbox, now, STATUS_ALERTS);
  return { pending, parked, undelivered: items.filter((i) => i.status !== 'delivered') };
}
