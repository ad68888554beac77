/**
 * Event Grid emission like Key Vault's: `…NewVersionCreated` when a version appears, `…NearExpiry` 30 days before
 * the current version's `exp` and `…Expired` at `exp` (on the emulator clock). Delivery is fire-and-forget with a few
 * retries, so a slow or failing subscriber never holds up a vault request.
 */
import { randomUUID } from 'node:crypto';
import type { ObjectKind } from './errors';
import type { Vault } from './vault';
import type { StoredObject, StoredVersion } from './vault-store';

/** Key Vault raises NearExpiry this long before `exp`. */
export const NEAR_EXPIRY_SECONDS = 30 * 24 * 3600;
const RETRY_DELAYS_MS = [200, 1000, 3000];
const DELIVERY_TIMEOUT_MS = 5000;

const objectType: Record<ObjectKind, 'Key' | 'Secret' | 'Certificate'> = {
  key: 'Key',
  secret: 'Secret',
  certificate: 'Certificate',
};
const collectionOf: Record<ObjectKind, 'keys' | 'secrets' | 'certificates'> = {
  key: 'keys',
  secret: 'secrets',
  certificate: 'certificates',
};

type Trigger = 'NewVersionCreated' | 'NearExpiry' | 'Expired';

/** One event in the Event Grid schema. */
export interface EventGridEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: string;
  eventTime: string;
  data: Record<string, unknown>;
  dataVersion: string;
  metadataVersion: string;
}

/** Sends vault events to webhook subscriptions. */
export class EventPublisher {
  private readonly subscriptions = new Map<string, Set<string>>();
  private readonly expirySent = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly now: () => Date) {}

  /** Adds a webhook endpoint for a vault (case-insensitive vault name). */
  subscribe(vaultName: string, endpoint: string): void {
    const key = vaultName.toLowerCase();
    const endpoints = this.subscriptions.get(key) ?? new Set<string>();
    endpoints.add(endpoint);
    this.subscriptions.set(key, endpoints);
  }

  /** Publishes `…NewVersionCreated` for a version that just became visible. */
  newVersion(vault: Vault, kind: ObjectKind, object: StoredObject<unknown>, version: StoredVersion<unknown>): void {
    this.publish(vault, [this.event(vault, kind, object, version, 'NewVersionCreated')]);
  }

  /** Raises NearExpiry/Expired for every current version whose threshold has passed; each at most once. */
  checkExpiry(vaults: Vault[]): void {
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    for (const vault of vaults) {
      const events: EventGridEvent[] = [];
      const families: [ObjectKind, StoredObject<unknown>[]][] = [
        ['key', vault.keys.listLive().filter((object) => !object.versions.at(-1)?.managed)],
        ['secret', vault.secrets.listLive().filter((object) => !object.versions.at(-1)?.managed)],
        ['certificate', vault.certificates.listLive()],
      ];
      for (const [kind, objects] of families) {
        for (const object of objects) events.push(...this.expiryEvents(vault, kind, object, nowSeconds));
      }
      if (events.length) this.publish(vault, events);
    }
  }

  private expiryEvents(
    vault: Vault,
    kind: ObjectKind,
    object: StoredObject<unknown>,
    nowSeconds: number,
  ): EventGridEvent[] {
    const version = object.versions.at(-1);
    const exp = version?.attributes.exp;
    if (!version || exp === undefined) return [];
    const due: Trigger[] = [];
    if (nowSeconds >= exp - NEAR_EXPIRY_SECONDS) due.push('NearExpiry');
    if (nowSeconds >= exp) due.push('Expired');
    const events: EventGridEvent[] = [];
    for (const trigger of due) {
      const key = `${vault.identity.name}|${kind}|${object.name.toLowerCase()}|${version.version}|${trigger}`;
      if (this.expirySent.has(key)) continue;
      this.expirySent.add(key);
      events.push(this.event(vault, kind, object, version, trigger));
    }
    return events;
  }

  private event(
    vault: Vault,
    kind: ObjectKind,
    object: StoredObject<unknown>,
    version: StoredVersion<unknown>,
    trigger: Trigger,
  ): EventGridEvent {
    const type = objectType[kind];
    return {
      id: randomUUID(),
      topic: vault.resourceId,
      subject: object.name,
      eventType: `Microsoft.KeyVault.${type}${trigger}`,
      eventTime: this.now().toISOString(),
      data: {
        Id: vault.objectId(collectionOf[kind], object.name, version.version),
        VaultName: vault.identity.name,
        ObjectType: type,
        ObjectName: object.name,
        Version: version.version,
        NBF: version.attributes.nbf ?? null,
        EXP: version.attributes.exp ?? null,
      },
      dataVersion: '1',
      metadataVersion: '1',
    };
  }

  private publish(vault: Vault, events: EventGridEvent[]): void {
    if (this.stopped) return;
    for (const endpoint of this.subscriptions.get(vault.identity.name.toLowerCase()) ?? []) {
      const delivery = this.deliver(endpoint, events).finally(() => this.inFlight.delete(delivery));
      this.inFlight.add(delivery);
    }
  }

  private async deliver(endpoint: string, events: EventGridEvent[]): Promise<void> {
    for (let attempt = 0; attempt <= RETRY_DELAYS_MS.length && !this.stopped; attempt++) {
      try {
        const response = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
          body: JSON.stringify(events),
          signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
      } catch {
        // subscriber unreachable: retry below, then give up like Event Grid dead-lettering without a dead-letter target
      }
      const wait = RETRY_DELAYS_MS[attempt];
      if (wait === undefined) return;
      await new Promise((resolve) => setTimeout(resolve, wait).unref());
    }
  }

  /** Stops publishing and waits (briefly) for deliveries already under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
  }
}
