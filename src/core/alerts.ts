import { createHash } from 'node:crypto';
import { describeError, isKvGuardError } from './errors';
import type { Alert, AlertSink, Alerts, Clock, Logger, StateStore, Telemetry } from './ports';

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

/** How each sink is retried. */
export interface AlertRetryOptions {
  /** Attempts per sink, the first included. */
  attempts: number;
  /** Pause before the second attempt; doubles after each failure. */
  initialDelayMs: number;
}

/** Dependencies of {@link createAlerts}. */
export interface AlertsDependencies {
  sinks: AlertSink[];
  state: StateStore;
  logger: Logger;
  telemetry: Telemetry;
  clock: Clock;
  retry?: Partial<AlertRetryOptions>;
}

const DEFAULT_RETRY: AlertRetryOptions = { attempts: 3, initialDelayMs: 500 };

/**
 * The {@link Alerts} port: raises each alert once (its `dedupeKey` is claimed create-only in the state store),
 * sends it to every sink concurrently, retries each sink with backoff, and never throws. An alert that no sink
 * could deliver may be raised again later; one that reached at least one sink is not.
 */
export function createAlerts(deps: AlertsDependencies): Alerts {
  const retry: AlertRetryOptions = { ...DEFAULT_RETRY, ...deps.retry };
  return {
    async raise(alert) {
      try {
        await raiseOnce(deps, retry, alert);
      } catch (error) {
        deps.logger.error('alert could not be raised', {
          type: alert.type,
          subject: alert.subject,
          ...describeError(error),
        });
      }
    },
  };
}

async function raiseOnce(deps: AlertsDependencies, retry: AlertRetryOptions, alert: Alert): Promise<void> {
  const key = dedupeStateKey('alerts', alert.dedupeKey);
  const details = { type: alert.type, subject: alert.subject, occurredAt: alert.occurredAt };
  let claim: ClaimOutcome | 'unrecorded';
  try {
    claim = await claimOnce(deps.state, deps.clock, key, details);
  } catch (error) {
    // Better a duplicate alert than a lost one.
    deps.logger.warn('alert de-duplication unavailable; sending anyway', {
      dedupeKey: alert.dedupeKey,
      ...describeError(error),
    });
    claim = 'unrecorded';
  }
  // An alert claimed by a caller that is still sending (or died sending) is not sent twice: a duplicate alert is
  // worse than one that waits for the stale claim to be taken over.
  if (claim === 'duplicate' || claim === 'pending') {
    deps.logger.info('alert already raised', { type: alert.type, subject: alert.subject, dedupeKey: alert.dedupeKey });
    return;
  }
  const results = await Promise.all(deps.sinks.map((sink) => sendWithRetry(deps, retry, sink, alert)));
  const delivered = deps.sinks.filter((_, i) => results[i]).map((s) => s.name);
  const failed = deps.sinks.filter((_, i) => !results[i]).map((s) => s.name);
  deps.telemetry.metric('kvguard.alert.raised', 1, { type: alert.type, severity: alert.severity });
  deps.logger[alert.severity === 'critical' ? 'error' : 'warn'](`alert: ${alert.summary}`, {
    type: alert.type,
    subject: alert.subject,
    delivered,
    failed,
  });
  if (claim === 'unrecorded') return;
  const status = delivered.length > 0 || deps.sinks.length === 0 ? 'done' : 'failed';
  await settleClaim(deps.state, deps.clock, key, status, { ...details, delivered, failed }).catch((error: unknown) => {
    deps.logger.warn('alert outcome not recorded', { dedupeKey: alert.dedupeKey, ...describeError(error) });
  });
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
  const existing = await state.read<ClaimRecord>(key);
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

/** Sends to one sink with bounded retries; answers whether it was delivered. Never throws. */
async function sendWithRetry(
  deps: AlertsDependencies,
  retry: AlertRetryOptions,
  sink: AlertSink,
  alert: Alert,
): Promise<boolean> {
  let delay = retry.initialDelayMs;
  for (let attempt = 1; attempt <= retry.attempts; attempt++) {
    try {
      await sink.send(alert);
      return true;
    } catch (error) {
      const last = attempt === retry.attempts;
      deps.logger[last ? 'error' : 'warn'](`alert sink ${sink.name} failed (attempt ${attempt}/${retry.attempts})`, {
        type: alert.type,
        subject: alert.subject,
        ...describeError(error),
      });
      if (last) break;
      await deps.clock.sleep(delay);
      delay *= 2;
    }
  }
  deps.telemetry.metric('kvguard.alert.sinkFailed', 1, { sink: sink.name, type: alert.type });
  return false;
}
