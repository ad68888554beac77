/** Secrets: set (a new version per call) plus the shared family routes. Values are never logged. */
import { badParameter, secretDisabled } from './errors';
import { objectBody, ok, versionFromBody, type ApiRequest, type Route } from './api';
import { familyRoutes, type FamilySpec } from './family';
import { attributesJson, type SecretPayload, type Vault } from './vault';
import type { StoredObject, StoredVersion } from './vault-store';

/** Key Vault caps a secret value at 25 KB. */
const MAX_SECRET_BYTES = 25 * 1024;

function managedFields(vault: Vault, object: StoredObject<SecretPayload>, version: StoredVersion<SecretPayload>) {
  if (!version.payload.certificateManaged) return {};
  // A certificate's secret points at the managed key of the same version, as Key Vault's `kid` does.
  return { kid: vault.objectId('keys', object.name, version.version), managed: true };
}

const secretsSpec: FamilySpec<SecretPayload> = {
  kind: 'secret',
  collection: 'secrets',
  store: (vault) => vault.secrets,
  bundle: (vault, object, version, options) => ({
    ...(options?.omitValue ? {} : { value: version.payload.value }),
    ...(version.payload.contentType !== undefined ? { contentType: version.payload.contentType } : {}),
    id: vault.objectId('secrets', object.name, version.version),
    attributes: attributesJson(version),
    ...(version.tags ? { tags: version.tags } : {}),
    ...managedFields(vault, object, version),
  }),
  refuseRead: (version) => (version.attributes.enabled === false ? secretDisabled() : undefined),
  item: (vault, object, version, versioned) => ({
    id: vault.objectId('secrets', object.name, versioned ? version.version : undefined),
    attributes: attributesJson(version),
    ...(version.tags ? { tags: version.tags } : {}),
    ...(version.payload.contentType !== undefined ? { contentType: version.payload.contentType } : {}),
    ...(version.payload.certificateManaged ? { managed: true } : {}),
  }),
  applyUpdate: (_vault, _object, version, body) => {
    const contentType = body['contentType'];
    if (contentType !== undefined && contentType !== null) {
      if (typeof contentType !== 'string') throw badParameter('Invalid value for contentType: expected a string.');
      version.payload.contentType = contentType;
    }
  },
};

/** Adds a secret version; also used for a certificate's managed secret. */
export function addSecretVersion(
  vault: Vault,
  name: string,
  payload: SecretPayload,
  body: Record<string, unknown>,
  options: { managed?: boolean; versionId?: string } = {},
): { object: StoredObject<SecretPayload>; version: StoredVersion<SecretPayload> } {
  return vault.secrets.addVersion(name, versionFromBody(body, payload, options.managed), options.versionId);
}

function setSecret(request: ApiRequest, name: string) {
  const body = objectBody(request);
  const value = body['value'];
  if (typeof value !== 'string') throw badParameter('Property value is required and must be a string.');
  if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES) {
    throw badParameter(`The secret value exceeds the maximum size of ${MAX_SECRET_BYTES} bytes.`);
  }
  const contentType = body['contentType'];
  if (contentType !== undefined && contentType !== null && typeof contentType !== 'string') {
    throw badParameter('Invalid value for contentType: expected a string.');
  }
  const payload: SecretPayload = { value, ...(typeof contentType === 'string' ? { contentType } : {}) };
  const { object, version } = addSecretVersion(request.vault, name, payload, body);
  request.vault.newVersion('secret', object, version);
  return ok(secretsSpec.bundle(request.vault, object, version));
}

/** Every secret route. */
export const secretRoutes: Route[] = [
  { method: 'PUT', pattern: 'secrets/:name', handle: (r, p) => setSecret(r, p['name']!) },
  ...familyRoutes(secretsSpec),
];

export { secretsSpec };
