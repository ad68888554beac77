import { ALERT_TYPES, claimOnce, dedupeStateKey, settleClaim } from '../alerts';
import { isExcludedByName } from '../backup/selection';
import type { ObjectType, VaultTarget } from '../domain';
import { describeError, KvGuardError } from '../errors';
import { backupJobSchema, type BackupJob } from '../jobs';
import type { Alert, Alerts, BackupStore, Clock, JobQueue, Logger, StateStore } from '../ports';
import { coalesceSnapshot } from './coalesce';
import { parseEnvelope, type EventEnvelope } from './envelope';
import {
  classifyEvent,
  type AccessPolicyChangedEvent,
  type ClassifiedEvent,
  type ObjectEvent,
  type VaultDeletedEvent,
  type VaultEvent,
} from './vault-event';

/** What {@link handleVaultEvent} needs. */
export interface VaultEventDependencies {
  /** The configured vault for a URL or name (case-insensitive); undefined when kvguard does not protect it. */
  findVault(urlOrName: string): VaultTarget | undefined;
  /** Also snapshot the whole vault when its access policy changes. */
  snapshotOnPolicyChange: boolean;
  /** Window in which events about one object share snapshots (see `coalesceSnapshot`); absent: one per event. */
  coalesceSeconds?: number;
  state: StateStore;
  backupQueue: JobQueue<BackupJob>;
  alerts: Alerts;
  store: BackupStore;
  logger: Logger;
  clock: Clock;
}

/** How one delivery was handled. */
export interface VaultEventResult {
  /** `handled`: acted on; `duplicate`: already handled; `ignored`: acknowledged only; `rejected`: not understood. */
  outcome: 'handled' | 'duplicate' | 'ignored' | 'rejected';
  eventId?: string;
  eventType?: string;
  vault?: string;
  /** What was done, e.g. `snapshot key/db-key`, `alert kvguard.KeyExpired`. */
  actions: string[];
  reason?: string;
}

/** How long the vault-deleted alert may spend reading the catalog: Event Grid waits 30 s for the whole delivery. */
const CATALOG_SUMMARY_BUDGET_MS = 10_000;

/**
 * Handles one Event Grid delivery (Event Grid schema or CloudEvents 1.0): parses it defensively, handles each event
 * id once, enqueues safety snapshots and raises alerts. Malformed, unknown and foreign events are answered with a
 * reason and never throw (a throw makes Event Grid redeliver); only a failure to record or enqueue the work throws,
 * and so does an event another delivery claimed but has not finished, so that Event Grid's redelivery retries it.
 * @param raw - the event exactly as the trigger received it
 */
export async function handleVaultEvent(raw: unknown, deps: VaultEventDependencies): Promise<VaultEventResult> {
  const envelope = parseEnvelope(raw);
  if (!envelope.ok) return { outcome: 'rejected', actions: [], reason: envelope.reason };
  const { id: eventId, type: eventType } = envelope.value;
  const classified = classifySafely(envelope.value);
  if (classified.kind !== 'event')
    return { outcome: classified.kind, eventId, eventType, actions: [], reason: classified.reason };
  const event = classified.event;
  const vault = resolveVault(event, deps);
  if (!vault && event.kind !== 'vaultDeleted') {
    return {
      outcome: 'ignored',
      eventId,
      eventType,
      vault: event.vaultName,
      actions: [],
      reason: `vault ${JSON.stringify(event.vaultName)} is not configured`,
    };
  }
  const key = dedupeStateKey('events', `${event.source ?? ''}|${eventId}`);
  const details = { eventId, eventType, vault: vault?.name ?? event.vaultName };
  const claim = await claimOnce(deps.state, deps.clock, key, details);
  if (claim === 'duplicate') return { outcome: 'duplicate', eventId, eventType, vault: details.vault, actions: [] };
  if (claim === 'pending') {
    // Only a finished claim proves the work was done. A pending one may belong to an invocation that died before
    // enqueueing; answering "duplicate" would end Event Grid's retries and lose the event. A retryable failure makes
    // Event Grid redeliver (10 s, 30 s, 1 min, 5 min …) until the claim is done, or stale and taken over. Taking it
    // over after the enqueue went through only repeats a snapshot job, which stores nothing new: same run id, and an
    // unchanged fingerprint is recorded as unchanged.
    throw new KvGuardError(
      'InProgress',
      `event ${eventId} is being handled by another delivery that has not finished; Event Grid will redeliver it`,
    );
  }
  try {
    const actions = await act(event, vault, deps);
    await settleClaim(deps.state, deps.clock, key, 'done', { ...details, actions });
    return { outcome: actions.length > 0 ? 'handled' : 'ignored', eventId, eventType, vault: details.vault, actions };
  } catch (error) {
    // Released so that Event Grid's redelivery is handled rather than taken for a duplicate.
    await settleClaim(deps.state, deps.clock, key, 'failed', { ...details, error: describeError(error) }).catch(
      (releaseError: unknown) =>
        deps.logger.warn('event claim not released; redeliveries wait for it to go stale', {
          eventId,
          ...describeError(releaseError),
        }),
    );
    throw error;
  }
}

/** Classifies an envelope; a parser bug becomes a rejection with a reason instead of a crash of the handler. */
function classifySafely(envelope: EventEnvelope): ClassifiedEvent {
  try {
    return classifyEvent(envelope);
  } catch (error) {
    return {
      kind: 'rejected',
      reason: `${envelope.type} ${envelope.id} could not be read: ${describeError(error).reason}`,
    };
  }
}

function resolveVault(event: VaultEvent, deps: VaultEventDependencies): VaultTarget | undefined {
  const candidates = [event.kind === 'vaultDeleted' ? undefined : event.vaultUrl, event.vaultName];
  for (const candidate of candidates) {
    const vault = candidate ? deps.findVault(candidate) : undefined;
    if (vault) return vault;
  }
  return undefined;
}

async function act(event: VaultEvent, vault: VaultTarget | undefined, deps: VaultEventDependencies): Promise<string[]> {
  switch (event.kind) {
    case 'object':
      return vault ? onObjectEvent(event, vault, deps) : [];
    case 'accessPolicyChanged':
      return vault ? onPolicyChanged(event, vault, deps) : [];
    case 'vaultDeleted':
      return onVaultDeleted(event, vault, deps);
  }
}

async function onObjectEvent(event: ObjectEvent, vault: VaultTarget, deps: VaultEventDependencies): Promise<string[]> {
  if (!vault.types.includes(event.objectType)) {
    deps.logger.info('event about an object type this vault does not back up', {
      vault: vault.name,
      type: event.objectType,
    });
    return [];
  }
  const object = { type: event.objectType, name: event.objectName };
  if (event.action !== 'expired' && isExcludedByName(object, vault)) {
    deps.logger.info('event about an object the vault policy excludes; no snapshot', { vault: vault.name, ...object });
    return [];
  }
  if (event.action !== 'expired') {
    const what = `${event.objectType}/${event.objectName}`;
    const timing = deps.coalesceSeconds
      ? await coalesceSnapshot(
          deps.state,
          deps.clock,
          { vault: vault.name, type: event.objectType, name: event.objectName },
          deps.coalesceSeconds,
        )
      : ({ kind: 'now' } as const);
    if (timing.kind === 'coalesced') return [`coalesced into the queued snapshot of ${what}`];
    const delaySeconds = timing.kind === 'trailing' ? timing.delaySeconds : undefined;
    await enqueueSnapshot(event, vault, [{ type: event.objectType, name: event.objectName }], deps, delaySeconds);
    return [delaySeconds ? `snapshot ${what} in ${delaySeconds} s` : `snapshot ${what}`];
  }
  const alert = expiredAlert(event, vault, deps.clock);
  await deps.alerts.raise(alert);
  return [`alert ${alert.type}`];
}

async function onPolicyChanged(
  event: AccessPolicyChangedEvent,
  vault: VaultTarget,
  deps: VaultEventDependencies,
): Promise<string[]> {
  const actions: string[] = [];
  if (deps.snapshotOnPolicyChange) {
    await enqueueSnapshot(event, vault, undefined, deps);
    actions.push('snapshot vault');
  }
  await deps.alerts.raise({
    type: ALERT_TYPES.accessPolicyChanged,
    severity: 'warning',
    subject: vault.name,
    summary: `The access policy of vault ${vault.name} changed${deps.snapshotOnPolicyChange ? '; kvguard is taking a snapshot of the vault' : ''}.`,
    dedupeKey: `event/${event.source ?? ''}|${event.eventId}`,
    occurredAt: occurredAt(event, deps.clock),
    data: { vault: vault.name, vaultUrl: vault.url, eventId: event.eventId, snapshot: deps.snapshotOnPolicyChange },
  });
  actions.push(`alert ${ALERT_TYPES.accessPolicyChanged}`);
  return actions;
}

async function onVaultDeleted(
  event: VaultDeletedEvent,
  vault: VaultTarget | undefined,
  deps: VaultEventDependencies,
): Promise<string[]> {
  const name = vault?.name ?? event.vaultName;
  const held = await catalogSummary(name, deps);
  if (!vault && held.objects === 0) {
    deps.logger.info('a vault kvguard neither protects nor holds backups of was deleted', { vault: name });
    return [];
  }
  const newest = held.newestBackup ? `the newest taken ${held.newestBackup.toISOString()}` : 'none yet';
  const count = `${held.complete ? '' : 'at least '}${held.objects} object${held.objects === 1 ? '' : 's'}`;
  await deps.alerts.raise({
    type: ALERT_TYPES.vaultDeleted,
    severity: 'critical',
    subject: name,
    summary:
      `Vault ${name} was deleted. kvguard holds backups of ${count} (${newest}). To recover: recover the vault within its ` +
      `soft-delete retention (az keyvault recover --name ${name}), then restore anything missing with kvguard restore; ` +
      `if it was purged, create a vault in the same subscription and geography and restore into it.`,
    dedupeKey: `vault-deleted/${event.resourceId.toLowerCase()}|${event.eventId}`,
    occurredAt: occurredAt(event, deps.clock),
    data: {
      vault: name,
      vaultUrl: vault?.url,
      resourceId: event.resourceId,
      backedUpObjects: held.objects,
      countComplete: held.complete,
      newestBackupAt: held.newestBackup?.toISOString(),
    },
  });
  return [`alert ${ALERT_TYPES.vaultDeleted}`];
}

/** Objects kvguard holds backups of and the newest backup's time, read within a time budget. */
async function catalogSummary(
  vault: string,
  deps: VaultEventDependencies,
): Promise<{ objects: number; newestBackup?: Date; complete: boolean }> {
  const deadline = deps.clock.now().getTime() + CATALOG_SUMMARY_BUDGET_MS;
  const objects = new Set<string>();
  let newestBackup: Date | undefined;
  try {
    for await (const record of deps.store.listBackups({ vault })) {
      objects.add(`${record.type}/${record.name.toLowerCase()}`);
      if (!newestBackup || record.takenAt > newestBackup) newestBackup = record.takenAt;
      if (deps.clock.now().getTime() > deadline) return { objects: objects.size, newestBackup, complete: false };
    }
  } catch (error) {
    deps.logger.warn('catalog unavailable while reporting a deleted vault', { vault, ...describeError(error) });
    return { objects: objects.size, newestBackup, complete: false };
  }
  return { objects: objects.size, newestBackup, complete: true };
}

function expiredAlert(event: ObjectEvent, vault: VaultTarget, clock: Clock): Alert {
  const types: Record<ObjectType, string> = {
    key: ALERT_TYPES.keyExpired,
    secret: ALERT_TYPES.secretExpired,
    certificate: ALERT_TYPES.certificateExpired,
  };
  const subject = `${vault.name}/${event.objectType}/${event.objectName}`;
  const expires = event.expiresOn ? ` on ${event.expiresOn.toISOString()}` : '';
  return {
    type: types[event.objectType],
    severity: 'warning',
    subject,
    summary: `The ${event.objectType} ${event.objectName} in vault ${vault.name} expired${expires}; rotate it or update its expiry.`,
    dedupeKey: `expired/${subject.toLowerCase()}/${event.version ?? event.eventId}`,
    occurredAt: occurredAt(event, clock),
    data: {
      vault: vault.name,
      vaultUrl: vault.url,
      type: event.objectType,
      name: event.objectName,
      version: event.version,
      expiresOn: event.expiresOn?.toISOString(),
      notBefore: event.notBefore?.toISOString(),
    },
  };
}

async function enqueueSnapshot(
  event: VaultEvent,
  vault: VaultTarget,
  objects: BackupJob['objects'],
  deps: VaultEventDependencies,
  delaySeconds?: number,
): Promise<void> {
  const job: BackupJob = {
    kind: 'backup',
    runId: snapshotRunId(event.eventId),
    vaultUrl: vault.url,
    trigger: 'event',
    full: false,
    ...(objects ? { objects } : {}),
    enqueuedAt: deps.clock.now().toISOString(),
  };
  await deps.backupQueue.send(backupJobSchema.parse(job), delaySeconds ? { delaySeconds } : undefined);
}

/** A run id derived from the event id, so a redelivered event that slips through maps to the same run. */
function snapshotRunId(eventId: string): string {
  return `event-${eventId.replace(/[^A-Za-z0-9-]/g, '')}`.slice(0, 100);
}

function occurredAt(event: VaultEvent, clock: Clock): string {
  return (event.time ?? clock.now()).toISOString();
}
