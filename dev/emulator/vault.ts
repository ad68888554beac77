/** One emulated vault: its three object families, identity (URL, resource id) and the wire shapes they share. */
import {
  ObjectCollection,
  type ObjectStore,
  RETENTION_DAYS,
  type StoredObject,
  type StoredVersion,
  type TransitionTiming,
} from './vault-store';
import type { ObjectKind } from './errors';

/** A key version's material: the private JWK (never sent) and its declared operations. */
export interface KeyPayload {
  kty: string;
  keyOps: string[];
  jwk: Record<string, unknown>;
  exportable?: boolean;
}

/** A secret version's value; `certificateManaged` marks the secret half of a certificate. */
export interface SecretPayload {
  value: string;
  contentType?: string;
  certificateManaged?: boolean;
}

/** A certificate version: DER (base64) plus the policy it was issued under. */
export interface CertificatePayload {
  cer: string;
  x5t: string;
  policy: Record<string, unknown>;
  /** True while the create operation is in progress: the version exists, disabled, without `cer`. */
  pending?: boolean;
}

/** Object-level certificate state: the current policy and the last create operation. */
export interface CertificateExtra {
  policy: Record<string, unknown>;
  operation?: CertificateOperationState;
}

/** The pending/completed create operation Key Vault exposes at `/certificates/{name}/pending`. */
export interface CertificateOperationState {
  requestId: string;
  csr: string;
  status: 'inProgress' | 'completed' | 'failed' | 'cancelled';
  issuer: string;
  target?: string;
}

/** Where a vault lives, for ids, event topics and backup binding. */
export interface VaultIdentity {
  name: string;
  url: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
}

/** Called when a new version becomes visible (drives Event Grid NewVersionCreated). */
export type NewVersionListener = (
  vault: Vault,
  kind: ObjectKind,
  object: StoredObject<unknown>,
  version: StoredVersion<unknown>,
) => void;

/** A vault's state; the REST handlers read and change it. */
export class Vault {
  readonly keys: ObjectStore<KeyPayload>;
  readonly secrets: ObjectStore<SecretPayload>;
  readonly certificates: ObjectStore<CertificatePayload, CertificateExtra>;

  constructor(
    readonly identity: VaultIdentity,
    /** AES-256 key sealing backups; shared by all vaults of one emulator (one "geography"). */
    readonly backupKey: Buffer,
    timing: () => TransitionTiming,
    /** The emulator clock in milliseconds. */
    readonly nowMs: () => number,
    onChange: () => void,
    private readonly onNewVersion: NewVersionListener,
  ) {
    this.keys = new ObjectCollection('key', timing, nowMs, onChange);
    this.secrets = new ObjectCollection('secret', timing, nowMs, onChange);
    this.certificates = new ObjectCollection('certificate', timing, nowMs, onChange);
  }

  /** The emulator clock in epoch seconds, as timestamps go on the wire. */
  nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  private readonly scheduled: { at: number; run: () => void }[] = [];

  /**
   * Runs `run` once the emulator clock reaches `at` (ms): on the next request, when a test moves the clock, or by a
   * timer, whichever comes first, so background completions follow the same clock as timestamps.
   */
  schedule(at: number, run: () => void): void {
    this.scheduled.push({ at, run });
    setTimeout(() => this.settleDue(), Math.max(0, at - this.nowMs())).unref();
  }

  /** Runs every scheduled completion that is due. */
  settleDue(): void {
    const now = this.nowMs();
    for (let index = this.scheduled.length - 1; index >= 0; index--) {
      const entry = this.scheduled[index]!;
      if (entry.at > now) continue;
      this.scheduled.splice(index, 1);
      entry.run();
    }
  }

  /** The vault's base URL without the trailing slash. */
  get base(): string {
    return this.identity.url.replace(/\/$/, '');
  }

  /** The ARM resource id Event Grid uses as `topic`. */
  get resourceId(): string {
    const { subscriptionId, resourceGroup, name } = this.identity;
    return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.KeyVault/vaults/${name}`;
  }

  /** `https://host/<collection>/<name>[/<version>]`, the identifier shape the SDKs parse. */
  objectId(collection: 'keys' | 'secrets' | 'certificates', name: string, version?: string): string {
    return `${this.base}/${collection}/${name}${version ? `/${version}` : ''}`;
  }

  /** `https://host/deleted<collection>/<name>`. */
  recoveryId(collection: 'keys' | 'secrets' | 'certificates', name: string): string {
    return `${this.base}/deleted${collection}/${name}`;
  }

  /** Announces a new version to event subscribers. */
  newVersion(kind: ObjectKind, object: StoredObject<unknown>, version: StoredVersion<unknown>): void {
    this.onNewVersion(this, kind, object, version);
  }
}

/** Wire attributes for a version: Key Vault adds the recovery level and retention to every answer. */
export function attributesJson(
  version: StoredVersion<unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const { enabled, nbf, exp, created, updated } = version.attributes;
  return {
    enabled,
    ...(nbf !== undefined ? { nbf } : {}),
    ...(exp !== undefined ? { exp } : {}),
    created,
    updated,
    recoveryLevel: 'Recoverable+Purgeable',
    recoverableDays: RETENTION_DAYS,
    ...extra,
  };
}

/** Soft-delete fields added to deleted bundles and items. */
export function deletionJson(
  vault: Vault,
  collection: 'keys' | 'secrets' | 'certificates',
  object: StoredObject<unknown>,
): Record<string, unknown> {
  return {
    recoveryId: vault.recoveryId(collection, object.name),
    deletedDate: object.deleted?.deletedDate,
    scheduledPurgeDate: object.deleted?.scheduledPurgeDate,
  };
}
