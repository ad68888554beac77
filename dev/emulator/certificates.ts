/**
 * Certificates: create with a self-signed policy (a pending operation that completes after `pendingMs`), policy
 * and operation views, plus the shared family routes. A certificate version brings a managed key and a managed
 * secret with the same name and version id, as in Key Vault.
 */
import { createHash, randomUUID, webcrypto } from 'node:crypto';
import { badParameter, ServiceError } from './errors';
import { objectBody, ok, parseTags, newAttributes, type ApiRequest, type Route } from './api';
import { familyRoutes, type FamilySpec } from './family';
import { addKeyVersion } from './keys';
import { addSecretVersion } from './secrets';
import { attributesJson, type CertificateExtra, type CertificatePayload, type Vault } from './vault';
import type { StoredObject, StoredVersion } from './vault-store';
import { certificateSigningRequest, generateSigningKeys, issueCertificate, privateKeyPem, x509 } from './x509';

type Policy = Record<string, unknown>;
type CertObject = StoredObject<CertificatePayload, CertificateExtra>;

const DAY_MS = 24 * 3600 * 1000;
const USAGE_FLAGS: Record<string, x509.KeyUsageFlags> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  nonRepudiation: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
  encipherOnly: x509.KeyUsageFlags.encipherOnly,
  decipherOnly: x509.KeyUsageFlags.decipherOnly,
};

function policyJson(vault: Vault, name: string, policy: Policy): Policy {
  return { id: `${vault.objectId('certificates', name)}/policy`, ...policy };
}

const certificatesSpec: FamilySpec<CertificatePayload, CertificateExtra> = {
  kind: 'certificate',
  collection: 'certificates',
  store: (vault) => vault.certificates,
  companions: (vault) => [vault.keys, vault.secrets],
  bundle: (vault, object, version) => ({
    id: vault.objectId('certificates', object.name, version.version),
    ...(version.payload.pending
      ? {}
      : {
          kid: vault.objectId('keys', object.name, version.version),
          sid: vault.objectId('secrets', object.name, version.version),
          x5t: version.payload.x5t,
          cer: version.payload.cer,
        }),
    attributes: attributesJson(version),
    ...(version.tags ? { tags: version.tags } : {}),
    policy: policyJson(vault, object.name, object.extra?.policy ?? version.payload.policy),
  }),
  hiddenFromLists: (version, request) =>
    version.payload.pending === true && request.query.get('includePending') !== 'true',
  item: (vault, object, version) => ({
    id: vault.objectId('certificates', object.name, version.version),
    ...(version.payload.pending ? {} : { x5t: version.payload.x5t }),
    attributes: attributesJson(version),
    ...(version.tags ? { tags: version.tags } : {}),
  }),
};

/** Fills in Key Vault's policy defaults and checks what the emulator can issue. */
export function normalizePolicy(raw: unknown, now: number): Policy {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw badParameter('Property policy is required.');
  const policy = raw as Policy;
  const issuer = { name: 'Self', ...((policy['issuer'] as Policy | undefined) ?? {}) };
  if (String(issuer['name']).toLowerCase() !== 'self') {
    throw badParameter(`Issuer '${String(issuer['name'])}' is not supported by the emulator; use 'Self'.`);
  }
  const keyProps: Policy = {
    exportable: true,
    kty: 'RSA',
    key_size: 2048,
    reuse_key: false,
    ...((policy['key_props'] as Policy | undefined) ?? {}),
  };
  const kty = String(keyProps['kty']);
  if (!['RSA', 'RSA-HSM', 'EC', 'EC-HSM'].includes(kty))
    throw badParameter(`The specified key type (${kty}) is not supported.`);
  if (kty.startsWith('EC')) keyProps['crv'] = keyProps['crv'] ?? 'P-256';
  const x509Props: Policy = { validity_months: 12, ...((policy['x509_props'] as Policy | undefined) ?? {}) };
  const subject = x509Props['subject'];
  const sans = x509Props['sans'] as Policy | undefined;
  if ((typeof subject !== 'string' || subject === '') && !sans) {
    throw badParameter('Either subject or subject alternative names must be specified in the certificate policy.');
  }
  return {
    key_props: keyProps,
    secret_props: { contentType: 'application/x-pkcs12', ...(policy['secret_props'] ?? {}) },
    x509_props: x509Props,
    lifetime_actions: policy['lifetime_actions'] ?? [
      { trigger: { lifetime_percentage: 80 }, action: { action_type: 'AutoRenew' } },
    ],
    issuer,
    attributes: { enabled: true, created: now, updated: now },
  };
}

interface IssuedCertificate {
  der: Buffer;
  csr: Buffer;
  privateJwk: Record<string, unknown>;
  privatePem: string;
  notBefore: Date;
  notAfter: Date;
}

async function issue(policy: Policy, now: Date): Promise<IssuedCertificate> {
  const keyProps = policy['key_props'] as Policy;
  const x509Props = policy['x509_props'] as Policy;
  const kty = String(keyProps['kty']).startsWith('EC') ? 'EC' : 'RSA';
  const keys = await generateSigningKeys(kty, kty === 'EC' ? String(keyProps['crv']) : Number(keyProps['key_size']));
  const subject =
    typeof x509Props['subject'] === 'string' && x509Props['subject'] ? String(x509Props['subject']) : 'CN=';
  const sans = (x509Props['sans'] ?? {}) as { dns_names?: string[]; emails?: string[]; upns?: string[] };
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const months = Number(x509Props['validity_months'] ?? 12);
  const notAfter = new Date(now.getTime() + Math.max(1, months) * 30 * DAY_MS);
  const usages = (x509Props['key_usage'] as string[] | undefined) ?? ['digitalSignature', 'keyEncipherment'];
  const certificate = await issueCertificate({
    subject,
    keys,
    notBefore,
    notAfter,
    names: { dns: sans.dns_names ?? [], emails: sans.emails ?? [] },
    keyUsages: usages.reduce<number>((flags, usage) => flags | (USAGE_FLAGS[usage] ?? 0), 0),
    extendedKeyUsages: (x509Props['ekus'] as string[] | undefined) ?? ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
  });
  return {
    der: Buffer.from(certificate.rawData),
    csr: await certificateSigningRequest(subject, keys),
    privateJwk: (await webcrypto.subtle.exportKey('jwk', keys.privateKey)) as Record<string, unknown>,
    privatePem: await privateKeyPem(keys.privateKey),
    notBefore,
    notAfter,
  };
}

function operationJson(vault: Vault, object: CertObject): Record<string, unknown> {
  const operation = object.extra?.operation;
  if (!operation) throw new ServiceError(404, 'CertificateNotFound', `Pending certificate not found: ${object.name}`);
  return {
    id: `${vault.objectId('certificates', object.name)}/pending`,
    issuer: { name: operation.issuer },
    csr: operation.csr,
    cancellation_requested: false,
    status: operation.status,
    ...(operation.status === 'inProgress'
      ? {
          status_details:
            'Pending certificate created. Certificate request is in progress. This may take some time based on the issuer provider. Please check again later.',
        }
      : {}),
    ...(operation.target ? { target: operation.target } : {}),
    request_id: operation.requestId,
  };
}

/** Fills the pending version in place and adds the managed key and secret under the same version id. */
function completeIssue(
  vault: Vault,
  object: CertObject,
  version: StoredVersion<CertificatePayload>,
  issued: IssuedCertificate,
  body: Record<string, unknown>,
): void {
  const { name } = object;
  const versionId = version.version;
  const policy = version.payload.policy;
  const requested = (body['attributes'] as Policy | undefined) ?? {};
  const validity = {
    ...requested,
    nbf: Math.floor(issued.notBefore.getTime() / 1000),
    exp: Math.floor(issued.notAfter.getTime() / 1000),
  };
  const managedBody = { attributes: validity };
  const kty = String((policy['key_props'] as Policy)['kty']);
  const keyOps = kty.startsWith('EC')
    ? ['sign', 'verify']
    : ['sign', 'verify', 'wrapKey', 'unwrapKey', 'encrypt', 'decrypt'];
  addKeyVersion(vault, name, { kty, keyOps, jwk: issued.privateJwk }, managedBody, { managed: true, versionId });
  const pem = `${issued.privatePem}-----BEGIN CERTIFICATE-----\n${issued.der
    .toString('base64')
    .match(/.{1,64}/g)
    ?.join('\n')}\n-----END CERTIFICATE-----\n`;
  // The emulator cannot write PKCS#12; the managed secret always holds PEM (key + certificate) and says so.
  addSecretVersion(
    vault,
    name,
    { value: pem, contentType: 'application/x-pem-file', certificateManaged: true },
    managedBody,
    { managed: true, versionId },
  );
  version.payload = {
    cer: issued.der.toString('base64'),
    x5t: createHash('sha1').update(issued.der).digest('base64url'),
    policy,
  };
  version.attributes = {
    ...newAttributes({ attributes: validity }, vault.nowSeconds()),
    created: version.attributes.created,
  };
  if (object.extra?.operation) {
    object.extra.operation = {
      ...object.extra.operation,
      status: 'completed',
      target: vault.objectId('certificates', name),
    };
  }
  vault.certificates.touched();
  vault.newVersion('certificate', object, version);
}

async function createCertificate(request: ApiRequest, name: string, pendingMs: number) {
  const { vault } = request;
  const body = objectBody(request);
  // Everything that could stop the create from finishing is refused now: later it would run outside any request.
  for (const collection of [vault.certificates, vault.keys, vault.secrets]) collection.assertNameUsable(name);
  newAttributes(body, vault.nowSeconds());
  const policy = normalizePolicy(body['policy'], vault.nowSeconds());
  const tags = parseTags(body);
  const issued = await issue(policy, new Date(vault.nowSeconds() * 1000));
  // Like Key Vault, the new version exists at once (disabled, without `cer`) while the operation is in progress.
  const { object, version } = vault.certificates.addVersion(name, (_id, now) => ({
    attributes: { enabled: false, created: now, updated: now },
    ...(tags ? { tags } : {}),
    payload: { cer: '', x5t: '', policy, pending: true },
  }));
  object.extra = {
    policy,
    operation: {
      requestId: randomUUID().replace(/-/g, ''),
      csr: issued.csr.toString('base64'),
      status: 'inProgress',
      issuer: String((policy['issuer'] as Policy)['name']),
    },
  };
  const answer = operationJson(vault, object);
  const finish = () => completeIssue(vault, object, version, issued, body);
  if (pendingMs <= 0) finish();
  else setTimeout(() => finishInBackground(object, finish), pendingMs).unref();
  return { status: 202, body: answer };
}

/** Completes a create after its pending time; should that fail (the name was taken meanwhile), the operation fails, not the emulator. */
function finishInBackground(object: CertObject, finish: () => void): void {
  try {
    finish();
  } catch {
    if (object.extra?.operation) object.extra.operation = { ...object.extra.operation, status: 'failed' };
  }
}

function getOperation(request: ApiRequest, name: string) {
  return ok(operationJson(request.vault, request.vault.certificates.live(name)));
}

function updatePolicy(request: ApiRequest, name: string) {
  const object = request.vault.certificates.live(name);
  const current = object.extra?.policy ?? {};
  const merged = normalizePolicy({ ...current, ...objectBody(request) }, request.vault.nowSeconds());
  object.extra = { ...(object.extra ?? { policy: merged }), policy: merged };
  request.vault.certificates.touched();
  return ok(policyJson(request.vault, object.name, merged));
}

/** Every certificate route; `pendingMs` says how long a create stays in progress. */
export function certificateRoutes(pendingMs: () => number): Route[] {
  return [
    {
      method: 'POST',
      pattern: 'certificates/:name/create',
      handle: (r, p) => createCertificate(r, p['name']!, pendingMs()),
    },
    { method: 'GET', pattern: 'certificates/:name/pending', handle: (r, p) => getOperation(r, p['name']!) },
    {
      method: 'GET',
      pattern: 'certificates/:name/policy',
      handle: (r, p) => {
        const object = r.vault.certificates.live(p['name']!);
        return ok(policyJson(r.vault, object.name, object.extra?.policy ?? {}));
      },
    },
    { method: 'PATCH', pattern: 'certificates/:name/policy', handle: (r, p) => updatePolicy(r, p['name']!) },
    ...familyRoutes(certificatesSpec),
  ];
}

export { certificatesSpec };
