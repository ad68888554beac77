/**
 * The three object families on their SDK clients, behind one shape, so the port's retry and wait logic is written
 * once. Every method is a single service round trip (one page for listings); none returns secret material.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { CertificateClient } from '@azure/keyvault-certificates';
import type { KeyClient } from '@azure/keyvault-keys';
import type { SecretClient } from '@azure/keyvault-secrets';
import type {
  CertificatePolicyState,
  DeletedObject,
  ObjectSummary,
  ObjectType,
  ObjectVersion,
} from '../../core/domain';
import { KvGuardError } from '../../core/errors';

/** One page of a listing as the service returned it. */
export interface RawPage<T> {
  items: T[];
  continuationToken?: string;
}

/** Options every family call takes. */
export interface CallOptions {
  abortSignal?: AbortSignal;
}

/** What the port needs from one object family. */
export interface ObjectFamily {
  readonly type: ObjectType;
  listPage(
    continuationToken: string | undefined,
    pageSize: number | undefined,
    options: CallOptions,
  ): Promise<RawPage<ObjectSummary>>;
  listVersionsPage(
    name: string,
    continuationToken: string | undefined,
    options: CallOptions,
  ): Promise<RawPage<ObjectVersion>>;
  listDeletedPage(continuationToken: string | undefined, options: CallOptions): Promise<RawPage<DeletedObject>>;
  backup(name: string, options: CallOptions): Promise<Uint8Array>;
  restore(bytes: Uint8Array, options: CallOptions): Promise<string>;
  /** Resolves when the name is live; throws the service's 404 otherwise. */
  getLive(name: string, options: CallOptions): Promise<void>;
  getDeleted(name: string, options: CallOptions): Promise<DeletedObject>;
  /** Sends the delete; answers whether the vault keeps a soft-deleted copy (a recovery id). */
  startDelete(name: string, options: CallOptions): Promise<{ softDeleted: boolean }>;
  startRecover(name: string, options: CallOptions): Promise<void>;
  purge(name: string, options: CallOptions): Promise<void>;
  /** A certificate's policy (certificates only). */
  policy?(name: string, options: CallOptions): Promise<CertificatePolicyState>;
}

/**
 * The generated paging helpers of the Key Vault SDKs (keys 4.10, secrets 4.11, certificates 4.10) map each page
 * with `page.map(...)` and so drop the `continuationToken` they attached to it. {@link nextLinkPolicy} reads the
 * `nextLink` off the wire instead, into the store of the page request that is running.
 */
const pageCapture = new AsyncLocalStorage<{ nextLink?: string }>();

/** Pipeline policy that records a listing response's `nextLink` for {@link firstPage}. */
export const nextLinkPolicy: PipelinePolicy = {
  name: 'kvguardNextLinkPolicy',
  async sendRequest(request, next) {
    const response = await next(request);
    const store = pageCapture.getStore();
    if (store && response.status === 200 && response.bodyAsText && request.method === 'GET') {
      try {
        const body = JSON.parse(response.bodyAsText) as { nextLink?: unknown };
        store.nextLink = typeof body.nextLink === 'string' && body.nextLink !== '' ? body.nextLink : undefined;
      } catch {
        // not a listing body
      }
    }
    return response;
  },
};

interface Pageable<T> {
  byPage(settings?: { continuationToken?: string; maxPageSize?: number }): AsyncIterableIterator<T[]>;
}

/** Fetches exactly one page (the first, or the one `continuationToken` points at). */
async function firstPage<T, U>(
  iterable: Pageable<T>,
  continuationToken: string | undefined,
  maxPageSize: number | undefined,
  map: (item: T) => U,
): Promise<RawPage<U>> {
  const capture: { nextLink?: string } = {};
  return pageCapture.run(capture, async () => {
    const result = await iterable.byPage({ continuationToken, maxPageSize }).next();
    const page = result.done ? [] : (result.value as T[] & { continuationToken?: string });
    return { items: page.map(map), continuationToken: page.continuationToken ?? capture.nextLink };
  });
}

/** The version id: the SDK gives it, or it is the last segment of the object id. */
function versionOf(properties: { version?: string; id?: string }): string {
  return properties.version ?? properties.id?.split('/').filter(Boolean).pop() ?? '';
}

interface CommonProperties {
  name: string;
  id?: string;
  version?: string;
  enabled?: boolean;
  tags?: Record<string, string>;
  managed?: boolean;
  updatedOn?: Date;
  createdOn?: Date;
  expiresOn?: Date;
  notBefore?: Date;
  /** Secrets only. */
  contentType?: string;
}

function summary(type: ObjectType, p: CommonProperties & { x509Thumbprint?: Uint8Array }): ObjectSummary {
  return {
    type,
    name: p.name,
    tags: { ...(p.tags ?? {}) },
    enabled: p.enabled ?? true,
    managed: p.managed ?? false,
    updatedOn: p.updatedOn,
    ...(p.contentType ? { contentType: p.contentType } : {}),
    ...(p.version ? { version: p.version } : {}),
    ...(p.x509Thumbprint?.length ? { thumbprint: Buffer.from(p.x509Thumbprint).toString('hex') } : {}),
  };
}

function version(p: CommonProperties): ObjectVersion {
  return {
    version: versionOf(p),
    updatedOn: p.updatedOn,
    createdOn: p.createdOn,
    enabled: p.enabled ?? true,
    managed: p.managed ?? false,
    ...(p.expiresOn ? { expiresOn: p.expiresOn } : {}),
    ...(p.notBefore ? { notBefore: p.notBefore } : {}),
    tags: { ...(p.tags ?? {}) },
    ...(p.contentType ? { contentType: p.contentType } : {}),
  };
}

function deleted(
  type: ObjectType,
  name: string,
  d: { deletedOn?: Date; scheduledPurgeDate?: Date; recoveryId?: string },
): DeletedObject {
  return { type, name, deletedOn: d.deletedOn, scheduledPurgeDate: d.scheduledPurgeDate, recoveryId: d.recoveryId };
}

/** Without a recovery id the vault has soft-delete off and the name is free at once (old vaults only). */
function keepsDeletedCopy(result: { recoveryId?: string } | undefined): boolean {
  return result === undefined || Boolean(result.recoveryId);
}

function requireBytes(bytes: Uint8Array | undefined, type: ObjectType, name: string): Uint8Array {
  if (!bytes || bytes.byteLength === 0) throw new KvGuardError('Internal', `backup of ${type} ${name} came back empty`);
  return bytes;
}

/** Keys on a {@link KeyClient}. */
export function keyFamily(client: KeyClient): ObjectFamily {
  return {
    type: 'key',
    listPage: (token, size, o) => firstPage(client.listPropertiesOfKeys(o), token, size, (p) => summary('key', p)),
    listVersionsPage: (name, token, o) =>
      firstPage(client.listPropertiesOfKeyVersions(name, o), token, undefined, version),
    listDeletedPage: (token, o) =>
      firstPage(client.listDeletedKeys(o), token, undefined, (d) =>
        deleted('key', d.name, { ...d.properties, recoveryId: d.properties.recoveryId }),
      ),
    backup: async (name, o) => requireBytes(await client.backupKey(name, o), 'key', name),
    restore: async (bytes, o) => (await client.restoreKeyBackup(bytes, o)).name,
    getLive: async (name, o) => void (await client.getKey(name, o)),
    getDeleted: async (name, o) => {
      const d = await client.getDeletedKey(name, o);
      return deleted('key', d.name, d.properties);
    },
    startDelete: async (name, o) => {
      const poller = await client.beginDeleteKey(name, o);
      return { softDeleted: keepsDeletedCopy(poller.getResult()?.properties) };
    },
    startRecover: async (name, o) => void (await client.beginRecoverDeletedKey(name, o)),
    purge: async (name, o) => void (await client.purgeDeletedKey(name, o)),
  };
}

/** Secrets on a {@link SecretClient}; liveness is read from the version listing so no secret value is fetched. */
export function secretFamily(client: SecretClient): ObjectFamily {
  return {
    type: 'secret',
    listPage: (token, size, o) =>
      firstPage(client.listPropertiesOfSecrets(o), token, size, (p) => summary('secret', p)),
    listVersionsPage: (name, token, o) =>
      firstPage(client.listPropertiesOfSecretVersions(name, o), token, undefined, version),
    listDeletedPage: (token, o) =>
      firstPage(client.listDeletedSecrets(o), token, undefined, (d) => deleted('secret', d.properties.name, d)),
    backup: async (name, o) => requireBytes(await client.backupSecret(name, o), 'secret', name),
    restore: async (bytes, o) => (await client.restoreSecretBackup(bytes, o)).name,
    getLive: async (name, o) => {
      // getSecret would carry the value over the wire; an empty version listing also means "not live".
      const page = await firstPage(client.listPropertiesOfSecretVersions(name, o), undefined, 1, version);
      if (page.items.length === 0)
        throw new KvGuardError('NotFound', `secret ${name} has no versions`, {
          statusCode: 404,
          serviceCode: 'SecretNotFound',
        });
    },
    getDeleted: async (name, o) => deleted('secret', name, await client.getDeletedSecret(name, o)),
    startDelete: async (name, o) => {
      const poller = await client.beginDeleteSecret(name, o);
      return { softDeleted: keepsDeletedCopy(poller.getResult()) };
    },
    startRecover: async (name, o) => void (await client.beginRecoverDeletedSecret(name, o)),
    purge: async (name, o) => void (await client.purgeDeletedSecret(name, o)),
  };
}

/** Certificates on a {@link CertificateClient} (their managed key and secret move with them in the service). */
export function certificateFamily(client: CertificateClient): ObjectFamily {
  return {
    type: 'certificate',
    listPage: (token, size, o) =>
      firstPage(client.listPropertiesOfCertificates(o), token, size, (p) =>
        summary('certificate', p as CommonProperties),
      ),
    listVersionsPage: (name, token, o) =>
      firstPage(client.listPropertiesOfCertificateVersions(name, o), token, undefined, (p) =>
        version(p as CommonProperties),
      ),
    listDeletedPage: (token, o) =>
      firstPage(client.listDeletedCertificates(o), token, undefined, (d) => deleted('certificate', d.name, d)),
    backup: async (name, o) => requireBytes(await client.backupCertificate(name, o), 'certificate', name),
    restore: async (bytes, o) => (await client.restoreCertificateBackup(bytes, o)).name,
    getLive: async (name, o) => void (await client.getCertificate(name, o)),
    getDeleted: async (name, o) => deleted('certificate', name, await client.getDeletedCertificate(name, o)),
    startDelete: async (name, o) => {
      const poller = await client.beginDeleteCertificate(name, o);
      return { softDeleted: keepsDeletedCopy(poller.getResult()) };
    },
    startRecover: async (name, o) => void (await client.beginRecoverDeletedCertificate(name, o)),
    purge: async (name, o) => void (await client.purgeDeletedCertificate(name, o)),
    policy: async (name, o) => {
      const content = await client.getCertificatePolicy(name, o);
      return { updatedOn: content.updatedOn, content };
    },
  };
}
