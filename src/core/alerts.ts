import { createHash } from 'node:crypto';
import { z } from 'zod';
import { describeError, isKvGuardError } from './errors';
import type {
  Alert,
  AlertOutbox,
  AlertReceipt,
  AlertSink,
  Alerts,
  Clock,
  Logger,
  OutboxEntry,
  StateStore,
  StoredOutboxEntry,
  Telemetry,
} from './ports';

/** The alert types kvguard raises; each is also the `eventType` of the Event Grid topic sink. */
export const ALERT_TYPES = {
  objectDeleted: 'kvguard.ObjectDeleted',
  objectPurged: 'kvguard.ObjectPurged',
  objectVanished: 'kvguard.ObjectVanished',
  vaultDeleted: 'kvguard.VaultDeleted',
  backupFailed: 'kvguard.BackupFailed',
  rpoBreached: 'kvguard.RpoBreached',
  keyExpired: 'kvguard.KeyExpired',
  secretExpired: 'kvguard.SecretExpired',
  certificateExpired: 'kvguard.CertificateExpired',
  accessPolicyChanged: 'kvguard.AccessPolicyChanged',
  restoreDrillFailed: 'kvguard.RestoreDrillFailed',
  portableExportFailed: 'kvguard.PortableExportFailed',
} as const;

/** One of {@link ALERT_TYPES}. */
export type AlertType = (typeof ALERT_TYPES)[keyof typeof ALERT_TYPES];

/**
 * A state-store key for a de-duplication record: readable prefix plus a hash, because ids and dedupe keys come
 * from outside (Event Grid ids, object names) and may hold characters a blob name cannot.
 * @param namespace - the folder, e.g. `alerts` or `events`
 * @param id - the free-form identity to de-duplicate on
 */
export function dedupeStateKey(namespace: string, id: string): string {
  // Only letters, digits and single dashes survive into the readable part (no dots: `..` is no blob-name segment
  // the state store accepts), so any input at all makes a valid key; the hash keeps it unique.
  const readable = id
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 16);
  return `${namespace}/${readable ? `${readable}-` : ''}${hash}`;
}

/** How each sink is retried within one delivery pass. */
export interface AlertRetryOptions {
  /** Attempts per sink, the first included. */
  attempts: number;
  /** Pause before the second attempt; doubles after each failure. */
  initialDelayMs: number;
}

/** How alerts are delivered from the outbox. */
export interface AlertDeliveryOptions {
  /**
   * With no sink configured: `park` (a deployment: nobody would ever hear of the alert, so say so) or `wait` (a CLI
   * that does not know the deployment's sinks: leave the alert to the deployment's timer).
   */
  withoutSinks: 'park' | 'wait';
  /** An alert still undelivered this long after it was recorded is parked with the sinks' last failures. */
  parkAfterHours: number;
  /** How long a delivering process holds an entry before another may take it over (it may have died). */
  leaseMs: number;
  /** Entries one pass delivers at most. */
  batch: number;
}

/** Dependencies of {@link createAlerts}. */
export interface AlertsDependencies {
  sinks: AlertSink[];
  outbox: AlertOutbox;
  logger: Logger;
  telemetry: Telemetry;
  clock: Clock;
  retry?: Partial<AlertRetryOptions>;
  delivery?: Partial<AlertDeliveryOptions>;
}

const DEFAULT_RETRY: AlertRetryOptions = { attempts: 3, initialDelayMs: 500 };
const DEFAULT_DELIVERY: AlertDeliveryOptions = {
  withoutSinks: 'park',
  parkAfterHours: 24,
  leaseMs: 120_000,
  batch: 100,
};
const HOUR_MS = 3_600_000;

/** The reason an alert is parked when a deployment has no sink at all. */
export const NO_SINK_REASON =
  'no alert sink is configured (KVGUARD_ALERT_WEBHOOK_URL, KVGUARD_ALERT_EVENTGRID_ENDPOINT or APPLICATIONINSIGHTS_CONNECTION_STRING)';

/**
 * The outbox id of an alert: readable prefix plus a hash of its `dedupeKey`, so one alert has one entry.
 * @param dedupeKey - the alert's de-duplication key
 */
export function outboxId(dedupeKey: string): string {
  return dedupeStateKey('alerts', dedupeKey).slice('alerts/'.length);
}

/**
 * The {@link Alerts} port over a durable outbox: `raise` records the alert create-only (once per `dedupeKey`) and
 * only then tries each sink; whatever a sink did not take stays pending and is retried by `deliverPending` (the
 * timers) until every sink has it or it is parked with the reason. A lease on the entry keeps two processes from
 * delivering the same alert at once; a process that dies mid-way loses its lease and another takes over.
 */
export function createAlerts(deps: AlertsDependencies): Alerts {
  const retry: AlertRetryOptions = { ...DEFAULT_RETRY, ...deps.retry };
  const delivery: AlertDeliveryOptions = { ...DEFAULT_DELIVERY, ...deps.delivery };
  const deliver = (stored: StoredOutboxEntry) => deliverEntry(deps, retry, delivery, stored);
  return {
    async raise(alert) {
      const entry: OutboxEntry = {
        id: outboxId(alert.dedupeKey),
        alert,
        recordedAt: deps.clock.now().toISOString(),
        status: 'pending',
        deliveries: {},
        passes: 0,
      };
      const etag = await deps.outbox.record(entry);
      if (etag === undefined) {
        deps.logger.info('alert already raised', {
          type: alert.type,
          subject: alert.subject,
          dedupeKey: alert.dedupeKey,
        });
        const current = await deps.outbox.readPending(entry.id).catch(() => undefined);
        const known = current
          ? receipt(current.entry, deps.sinks)
          : { status: 'duplicate' as const, delivered: [], waiting: [] };
        return { ...known, recorded: false };
      }
      deps.telemetry.metric('kvguard.alert.raised', 1, { type: alert.type, severity: alert.severity });
      const after = await deliver({ entry, etag }).catch((error: unknown) => {
        deps.logger.warn('alert recorded; delivery left to the next pass', {
          dedupeKey: alert.dedupeKey,
          ...describeError(error),
        });
        return entry;
      });
      const result = receipt(after, deps.sinks);
      deps.logger[alert.severity === 'critical' ? 'error' : 'warn'](`alert: ${alert.summary}`, {
        type: alert.type,
        subject: alert.subject,
        status: result.status,
        delivered: result.delivered,
        waiting: result.waiting,
      });
      return result;
    },
    async deliverPending() {
      const pending = await deps.outbox.pending(delivery.batch);
      const results: OutboxEntry[] = [];
      for (const stored of pending) {
        try {
          results.push(await deliver(stored));
        } catch (error) {
          deps.logger.error('alert delivery pass failed for one alert', {
            id: stored.entry.id,
            ...describeError(error),
          });
          results.push(stored.entry);
        }
      }
      return results;
    },
  };
}

function receipt(entry: OutboxEntry, sinks: readonly AlertSink[]): AlertReceipt {
  const delivered = Object.entries(entry.deliveries)
    .filter(([, d]) => d.status === 'delivered')
    .map(([name]) => name);
  const waiting = entry.status === 'pending' ? sinks.map((s) => s.name).filter((n) => !delivered.includes(n)) : [];
  return { recorded: true, status: entry.status, delivered, waiting };
}

/** One delivery attempt of one outbox entry to the sinks that do not have it yet; answers the entry as saved. */
async function deliverEntry(
  deps: AlertsDependencies,
  retry: AlertRetryOptions,
  options: AlertDeliveryOptions,
  stored: StoredOutboxEntry,
): Promise<OutboxEntry> {
  const { outbox, clock, sinks } = deps;
  const now = clock.now();
  const entry: OutboxEntry = structuredClone(stored.entry);
  // A process that saved the final state and died before moving the entry: finish its work.
  if (entry.status !== 'pending') {
    await outbox.finish(entry);
    return entry;
  }
  if (entry.leaseUntil && Date.parse(entry.leaseUntil) > now.getTime()) return entry;
  if (sinks.length === 0) {
    if (options.withoutSinks === 'wait') return entry;
    return settle(deps, park(entry, now, NO_SINK_REASON), stored.etag);
  }
  let etag: string;
  try {
    etag = await outbox.update(
      { ...entry, leaseUntil: new Date(now.getTime() + options.leaseMs).toISOString() },
      stored.etag,
    );
  } catch (error) {
    if (isKvGuardError(error, 'Conflict')) return entry; // another process is delivering it
    throw error;
  }
  const todo = sinks.filter((sink) => entry.deliveries[sink.name]?.status !== 'delivered');
  const outcomes = await Promise.all(todo.map((sink) => sendWithRetry(deps, retry, sink, entry.alert)));
  const attemptedAt = clock.now().toISOString();
  todo.forEach((sink, i) => {
    const previous = entry.deliveries[sink.name];
    const outcome = outcomes[i]!;
    entry.deliveries[sink.name] = {
      status: outcome.ok ? 'delivered' : 'failed',
      attempts: (previous?.attempts ?? 0) + outcome.attempts,
      lastAttemptAt: attemptedAt,
      ...(outcome.ok ? { deliveredAt: attemptedAt } : { error: outcome.error }),
    };
  });
  entry.passes += 1;
  delete entry.leaseUntil;
  if (sinks.every((sink) => entry.deliveries[sink.name]?.status === 'delivered')) {
    entry.status = 'delivered';
    entry.finishedAt = attemptedAt;
  } else if (clock.now().getTime() - Date.parse(entry.recordedAt) >= options.parkAfterHours * HOUR_MS) {
    const failing = sinks
      .filter((sink) => entry.deliveries[sink.name]?.status !== 'delivered')
      .map((sink) => `${sink.name}: ${entry.deliveries[sink.name]?.error ?? 'not delivered'}`);
    park(entry, clock.now(), `undelivered after ${options.parkAfterHours} h; ${failing.join('; ')}`);
  }
  return settle(deps, entry, etag);
}

function park(entry: OutboxEntry, now: Date, reason: string): OutboxEntry {
  entry.status = 'parked';
  entry.parkedReason = reason;
  entry.finishedAt = now.toISOString();
  return entry;
}

/** Saves the entry (moving it to the history when it is final). */
async function settle(deps: AlertsDependencies, entry: OutboxEntry, etag: string): Promise<OutboxEntry> {
  await deps.outbox.update(entry, etag);
  if (entry.status === 'parked') {
    deps.telemetry.metric('kvguard.alert.parked', 1, { type: entry.alert.type });
    deps.logger.error(`alert parked: ${entry.parkedReason}`, { type: entry.alert.type, subject: entry.alert.subject });
  }
  if (entry.status !== 'pending') await deps.outbox.finish(entry);
  return entry;
}

/**
 * Whether {@link claimOnce} won the right to act: `claimed`; `duplicate` (the action is done); or `pending` (another
 * caller claimed it and has not finished — it may still be working, or may have died before settling).
 */
export type ClaimOutcome = 'claimed' | 'duplicate' | 'pending';

/** What the state store keeps for a claimed action (an alert, an event). */
export interface ClaimRecord {
  status: 'pending' | 'done' | 'failed';
  claimedAt: string;
  [detail: string]: unknown;
}

/** A claim as read back from the state store: its status and time are what claiming relies on. */
const claimRecordSchema: z.ZodType<ClaimRecord> = z.looseObject({
  status: z.enum(['pending', 'done', 'failed']),
  claimedAt: z.iso.datetime({ offset: true }),
});

/** A pending claim older than this belongs to a process that died mid-way; another may take it over. */
const STALE_CLAIM_MS = 5 * 60_000;

/**
 * Claims `key` so that exactly one caller acts on it, even when deliveries race: the first create-only write
 * wins. A claim whose action failed, or that stayed pending too long, can be taken over. Throws when the state
 * store is unavailable.
 * @param state - where claims live
 * @param clock - for claim times
 * @param key - the claim's state key (see {@link dedupeStateKey})
 * @param details - what to record beside the status (never secret material)
 */
export async function claimOnce(
  state: StateStore,
  clock: Clock,
  key: string,
  details: Record<string, unknown>,
): Promise<ClaimOutcome> {
  const record: ClaimRecord = { ...details, status: 'pending', claimedAt: clock.now().toISOString() };
  try {
    await state.write(key, record, { etag: null });
    return 'claimed';
  } catch (error) {
    if (!isKvGuardError(error, 'Conflict', 'AlreadyExists')) throw error;
  }
  const existing = await state.read(key, claimRecordSchema);
  // Written a moment ago and already gone is not a state claims get into; treat it as still being worked on.
  if (!existing) return 'pending';
  const { value, etag } = existing;
  if (value.status === 'done') return 'duplicate';
  const stale = value.status === 'pending' && Date.parse(value.claimedAt) + STALE_CLAIM_MS < clock.now().getTime();
  if (value.status === 'pending' && !stale) return 'pending';
  try {
    await state.write(key, record, { etag });
    return 'claimed';
  } catch (error) {
    if (isKvGuardError(error, 'Conflict', 'AlreadyExists')) return 'pending';
    throw error;
  }
}

/**
 * Records how a claimed action ended; a `failed` one may be claimed again by a later delivery.
 * @param status - `done` or `failed`
 */
export async function settleClaim(
  state: StateStore,
  clock: Clock,
  key: string,
  status: 'done' | 'failed',
  details: Record<string, unknown>,
): Promise<void> {
  const record: ClaimRecord = { ...details, status, claimedAt: clock.now().toISOString() };
  await state.write(key, record);
}

/** Sends to one sink with bounded retries; answers whether it was delivered and the last failure. Never throws. */
async function sendWithRetry(
  deps: AlertsDependencies,
  retry: AlertRetryOptions,
  sink: AlertSink,
  alert: Alert,
): Promise<{ ok: boolean; attempts: number; error?: string }> {
  let delay = retry.initialDelayMs;
  let error = '';
  for (let attempt = 1; attempt <= retry.attempts; attempt++) {
    try {
      await sink.send(alert);
      return { ok: true, attempts: attempt };
    } catch (failure) {
      const described = describeError(failure);
      error = `${described.code}: ${described.reason.split('\n')[0]}`;
      const last = attempt === retry.attempts;
      deps.logger[last ? 'error' : 'warn'](`alert sink ${sink.name} failed (attempt ${attempt}/${retry.attempts})`, {
        type: alert.type,
        subject: alert.subject,
        ...described,
      });
      if (last) break;
      await deps.clock.sleep(delay);
      delay *= 2;
    }
  }
  deps.telemetry.metric('kvguard.alert.sinkFailed', 1, { sink: sink.name, type: alert.type });
  return { ok: false, attempts: retry.attempts, error };
}
