/**
 * Certificates: create with a self-signed policy (a pending operation that completes after `pendingMs`), policy
 * and operation views, plus the shared family routes. A certificate version brings a managed key and a managed
 * secret with the same name and version id, as in Key Vault.
 */
import { createHash, createPrivateKey, randomUUID, webcrypto, X509Certificate } from 'node:crypto';
import { badParameter, pendingCertificateNotFound } from './errors';
import { objectBody, ok, parseTags, newAttributes, type ApiRequest, type Route } from './api';
import { familyRoutes, type FamilySpec } from './family';
import { addKeyVersion } from './keys';
import { addSecretVersion } from './secrets';
import { attributesJson, type CertificateExtra, type CertificatePayload, type Vault } from './vault';
import type { StoredObject, StoredVersion } from './vault-store';
import { pkcs12, readPkcs12 } from './pkcs12';
import { certificateSigningRequest, generateSigningKeys, issueCertificate, privateKeyPem, x509 } from './x509';

type Policy = Record<string, unknown>;
type CertObject = StoredObject<CertificatePayload, CertificateExtra>;

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
    // Recorded on every bundle of a certificate created in the vault, also once the operation completed.
    ...(object.extra?.operation ? { pending: { id: pendingId(vault, object.name) } } : {}),
  }),
  hiddenFromLists: (version, request) =>
    version.payload.pending === true && request.query.get('includePending') !== 'true',
  item: (vault, object, version, versioned) => ({
    id: vault.objectId('certificates', object.name, versioned ? version.version : undefined),
    ...(version.payload.pending ? {} : { x5t: version.payload.x5t }),
    attributes: attributesJson(version),
    ...(version.tags ? { tags: version.tags } : {}),
  }),
};

const DEFAULT_EKUS = ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'];
const DEFAULT_KEY_USAGE = ['digitalSignature', 'keyEncipherment'];
/** The managed secret's formats: PKCS#12 unless the policy asks for PEM. */
export const PKCS12_CONTENT_TYPE = 'application/x-pkcs12';
export const PEM_CONTENT_TYPE = 'application/x-pem-file';

function policyPart(policy: Policy, field: string): Policy {
  const part = policy[field];
  if (part === undefined || part === null) return {};
  if (typeof part !== 'object' || Array.isArray(part)) throw badParameter(`Invalid value for policy.${field}.`);
  return part as Policy;
}

/**
 * Fills in the policy defaults Key Vault answers with (recorded: an RSA 2048 exportable key, PKCS#12 secret, the
 * server and client authentication EKUs, digitalSignature + keyEncipherment, 12 months, `basic_constraints.ca`
 * false, auto-renew at 80 %) and checks what the emulator can issue.
 */
export function normalizePolicy(raw: unknown, now: number, imported?: { subject: string }): Policy {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw badParameter('Property policy is required.');
  const policy = raw as Policy;
  // An imported certificate was issued elsewhere: its issuer is whatever the policy says (Key Vault: `Unknown`).
  const issuer = { name: imported ? 'Unknown' : 'Self', ...policyPart(policy, 'issuer') };
  if (!imported && String(issuer['name']).toLowerCase() !== 'self') {
    throw badParameter(`Issuer '${String(issuer['name'])}' is not supported by the emulator; use 'Self'.`);
  }
  const keyProps: Policy = {
    exportable: true,
    kty: 'RSA',
    key_size: 2048,
    reuse_key: false,
    ...policyPart(policy, 'key_props'),
  };
  const kty = String(keyProps['kty']);
  if (!['RSA', 'RSA-HSM', 'EC', 'EC-HSM'].includes(kty))
    throw badParameter(`The specified key type (${kty}) is not supported.`);
  if (kty.startsWith('EC')) {
    delete keyProps['key_size'];
    keyProps['crv'] = keyProps['crv'] ?? 'P-256';
  }
  const x509Props: Policy = {
    // An import takes the subject from the certificate when the policy gives none.
    ...(imported ? { subject: imported.subject } : {}),
    ...policyPart(policy, 'x509_props'),
  };
  x509Props['ekus'] = x509Props['ekus'] ?? DEFAULT_EKUS;
  x509Props['key_usage'] = x509Props['key_usage'] ?? DEFAULT_KEY_USAGE;
  x509Props['validity_months'] = x509Props['validity_months'] ?? 12;
  x509Props['basic_constraints'] = x509Props['basic_constraints'] ?? { ca: false };
  const months = x509Props['validity_months'];
  if (typeof months !== 'number' || !Number.isInteger(months) || months < 1 || months > 1200) {
    throw badParameter(`Invalid value for policy.x509_props.validity_months: ${JSON.stringify(months)}.`);
  }
  const subject = x509Props['subject'];
  const sans = x509Props['sans'] as { dns_names?: unknown[]; emails?: unknown[]; upns?: unknown[] } | undefined;
  const hasSans = Boolean(sans && [sans.dns_names, sans.emails, sans.upns].some((names) => names?.length));
  if ((typeof subject !== 'string' || subject === '') && !hasSans) {
    throw badParameter('Either subject or subject alternative names must be specified in the certificate policy.');
  }
  const secretProps = { contentType: PKCS12_CONTENT_TYPE, ...policyPart(policy, 'secret_props') };
  if (![PKCS12_CONTENT_TYPE, PEM_CONTENT_TYPE].includes(String(secretProps.contentType))) {
    throw badParameter(
      `Invalid value for policy.secret_props.contentType: ${JSON.stringify(secretProps.contentType)}.`,
    );
  }
  return {
    key_props: keyProps,
    secret_props: secretProps,
    x509_props: x509Props,
    lifetime_actions: policy['lifetime_actions'] ?? [
      { trigger: { lifetime_percentage: 80 }, action: { action_type: 'AutoRenew' } },
    ],
    issuer,
    attributes: { enabled: true, created: now, updated: now },
  };
}

/**
 * An X.500 name the certificate library can parse: attribute types upper-cased (`cn=MyCert` is an ordinary subject
 * the service accepts), values, quotes and escapes left alone.
 */
export function canonicalSubject(subject: string): string {
  let result = '';
  let atType = true;
  let quoted = false;
  for (let index = 0; index < subject.length; index++) {
    const char = subject[index]!;
    if (char === '\\' && !atType) {
      result += char + (subject[index + 1] ?? '');
      index++;
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (!quoted && (char === ',' || char === '+' || char === ';')) atType = true;
    else if (atType && char === '=') atType = false;
    result += atType ? char.toUpperCase() : char;
  }
  return result;
}

interface IssuedCertificate {
  der: Buffer;
  csr: Buffer;
  privateJwk: Record<string, unknown>;
  /** The managed secret: PKCS#12 (base64) or PEM, as the policy's `secret_props.contentType` says. */
  secret: { value: string; contentType: string };
  notBefore: Date;
  notAfter: Date;
}

/** How long before its creation a new certificate is valid (recorded: `nbf` = created - 600 s). */
const BACKDATE_MS = 10 * 60_000;

async function issue(policy: Policy, now: Date): Promise<IssuedCertificate> {
  const keyProps = policy['key_props'] as Policy;
  const x509Props = policy['x509_props'] as Policy;
  const kty = String(keyProps['kty']).startsWith('EC') ? 'EC' : 'RSA';
  const subject =
    typeof x509Props['subject'] === 'string' && x509Props['subject'] ? canonicalSubject(x509Props['subject']) : 'CN=';
  const sans = (x509Props['sans'] ?? {}) as { dns_names?: string[]; emails?: string[]; upns?: string[] };
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  // Recorded: exp = created + validity_months calendar months (12 months = 365 days in 2026).
  const notAfter = new Date(now.getTime());
  notAfter.setUTCMonth(notAfter.getUTCMonth() + Number(x509Props['validity_months']));
  const usages = x509Props['key_usage'] as string[];
  try {
    const keys = await generateSigningKeys(kty, kty === 'EC' ? String(keyProps['crv']) : Number(keyProps['key_size']));
    const certificate = await issueCertificate({
      subject,
      keys,
      notBefore,
      notAfter,
      names: { dns: sans.dns_names ?? [], emails: sans.emails ?? [] },
      keyUsages: usages.reduce<number>((flags, usage) => flags | (USAGE_FLAGS[usage] ?? 0), 0),
      extendedKeyUsages: x509Props['ekus'] as string[],
    });
    const der = Buffer.from(certificate.rawData);
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    const pem = secretPem(await privateKeyPem(keys.privateKey), der);
    return {
      der,
      csr: await certificateSigningRequest(subject, keys),
      privateJwk: (await webcrypto.subtle.exportKey('jwk', keys.privateKey)) as Record<string, unknown>,
      secret: await managedSecret(policy, der, pkcs8, pem),
      notBefore,
      notAfter,
    };
  } catch (error) {
    // A policy the library cannot issue (an unknown attribute type, a curve or size WebCrypto refuses) is the
    // client's mistake: the service answers 400 for what it cannot issue, never 500. The message is ours.
    throw badParameter(`The certificate policy cannot be issued: ${(error as Error).message}`);
  }
}

/**
 * The managed secret's value: PKCS#12 (base64) or PEM as the policy says. With `key_props.exportable` false it holds
 * the certificate alone ("the private key isn't a part of the value when it's retrieved as a secret",
 * learn.microsoft.com "About Azure Key Vault certificates", Exportable or non-exportable key).
 */
async function managedSecret(
  policy: Policy,
  der: Buffer,
  pkcs8: Buffer,
  privatePemAndCertificate: string,
): Promise<{ value: string; contentType: string }> {
  const exportable = (policy['key_props'] as Policy)['exportable'] !== false;
  if (String((policy['secret_props'] as Policy)['contentType']) === PEM_CONTENT_TYPE) {
    const value = exportable ? privatePemAndCertificate : secretPem('', der);
    return { value, contentType: PEM_CONTENT_TYPE };
  }
  const file = await pkcs12(der, exportable ? pkcs8 : undefined);
  return { value: file.toString('base64'), contentType: PKCS12_CONTENT_TYPE };
}

function secretPem(privatePem: string, der: Buffer): string {
  const body =
    der
      .toString('base64')
      .match(/.{1,64}/g)
      ?.join('\n') ?? '';
  return `${privatePem}-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

function pendingId(vault: Vault, name: string): string {
  return `${vault.objectId('certificates', name)}/pending`;
}

function operationJson(vault: Vault, object: CertObject): Record<string, unknown> {
  const operation = object.extra?.operation;
  if (!operation) throw pendingCertificateNotFound(object.name);
  return {
    id: pendingId(vault, object.name),
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
  importedAt?: number,
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
  addSecretVersion(vault, name, { ...issued.secret, certificateManaged: true }, managedBody, {
    managed: true,
    versionId,
  });
  version.payload = {
    cer: issued.der.toString('base64'),
    x5t: createHash('sha1').update(issued.der).digest('base64url'),
    policy,
  };
  // Recorded: the version's `created` is its issue time, 600 s after `nbf` (the emulator issues at create time).
  const issuedAt = importedAt ?? validity.nbf + BACKDATE_MS / 1000;
  version.attributes = newAttributes({ attributes: validity }, issuedAt);
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
  else vault.schedule(vault.nowMs() + pendingMs, () => finishInBackground(object, finish));
  const requestId = object.extra.operation!.requestId;
  const location = `${pendingId(vault, object.name)}?api-version=${encodeURIComponent(request.apiVersion)}&request_id=${requestId}`;
  return { status: 202, body: answer, headers: { Location: location, ...operationHeaders(object) } };
}

/** Recorded: the create answer and every pending read while in progress carry `Retry-After: 10`. */
function operationHeaders(object: CertObject): Record<string, string> {
  return object.extra?.operation?.status === 'inProgress' ? { 'Retry-After': '10' } : {};
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
  const object = request.vault.certificates.live(name);
  return { ...ok(operationJson(request.vault, object)), headers: operationHeaders(object) };
}

function updatePolicy(request: ApiRequest, name: string) {
  const object = request.vault.certificates.live(name);
  const current = object.extra?.policy ?? {};
  const merged = normalizePolicy({ ...current, ...objectBody(request) }, request.vault.nowSeconds());
  // An update moves the policy's `updated`, never its `created`.
  const created = (current['attributes'] as Policy | undefined)?.['created'];
  if (created !== undefined) merged['attributes'] = { ...(merged['attributes'] as Policy), created };
  object.extra = { ...(object.extra ?? { policy: merged }), policy: merged };
  request.vault.certificates.touched();
  return ok(policyJson(request.vault, object.name, merged));
}

/** The certificate and private key of an import: PEM text, or a password-less PKCS#12 file in base64. */
async function readImported(value: string, contentType: string): Promise<{ der: Buffer; pkcs8: Buffer }> {
  let der: Buffer | undefined;
  let keyDer: Buffer | undefined;
  try {
    if (contentType === PEM_CONTENT_TYPE) {
      const certificate = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(value);
      const key = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[^-]+-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(value);
      if (certificate) der = Buffer.from(certificate[1]!.replace(/\s+/g, ''), 'base64');
      if (key) keyDer = createPrivateKey(key[0]).export({ format: 'der', type: 'pkcs8' });
    } else {
      const contents = await readPkcs12(Buffer.from(value, 'base64'));
      der = contents.certificateDer;
      keyDer = contents.privateKeyPkcs8;
    }
  } catch {
    // Our message: the service's text for an unreadable import is not recorded.
    throw badParameter('The specified certificate could not be read as ' + contentType + '.');
  }
  if (!der) throw badParameter('The specified certificate content has no X.509 certificate.');
  // Our message (the service's wording is not recorded): an import needs the private key.
  if (!keyDer) throw badParameter('Private key is not specified in the specified X.509 PEM certificate content.');
  return { der, pkcs8: keyDer };
}

/**
 * `POST /certificates/{name}/import`: a new version from a certificate and its private key (PEM, or PKCS#12 without
 * password), with the managed key and secret, as Key Vault does. The policy's subject defaults to the certificate's.
 */
async function importCertificate(request: ApiRequest, name: string) {
  const { vault } = request;
  const body = objectBody(request);
  const value = body['value'];
  if (typeof value !== 'string' || value === '') throw badParameter('Property value is required.');
  for (const collection of [vault.certificates, vault.keys, vault.secrets]) collection.assertNameUsable(name);
  newAttributes(body, vault.nowSeconds());
  const tags = parseTags(body);
  const requestedPolicy = (body['policy'] ?? {}) as Policy;
  const requestedType = policyPart(requestedPolicy, 'secret_props')['contentType'];
  // `@azure/keyvault-certificates` 4.10 sends no policy on import (its options' `policy` is not serialized), so PEM
  // text is recognised by its armour, as the service must too.
  const contentType =
    typeof requestedType === 'string'
      ? requestedType
      : value.startsWith('-----BEGIN')
        ? PEM_CONTENT_TYPE
        : PKCS12_CONTENT_TYPE;
  const requested = {
    ...requestedPolicy,
    secret_props: { ...policyPart(requestedPolicy, 'secret_props'), contentType },
  };
  const { der, pkcs8 } = await readImported(value, contentType);
  const certificate = new X509Certificate(der);
  const policy = normalizePolicy(requested, vault.nowSeconds(), { subject: certificate.subject.replace(/\n/g, ', ') });
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const privateJwk = privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const issued: IssuedCertificate = {
    der,
    csr: Buffer.alloc(0),
    privateJwk,
    secret: await managedSecret(policy, der, pkcs8, secretPem(keyPem, der)),
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
  };
  const { object, version } = vault.certificates.addVersion(name, (_id, now) => ({
    attributes: { enabled: false, created: now, updated: now },
    ...(tags ? { tags } : {}),
    payload: { cer: '', x5t: '', policy, pending: true },
  }));
  object.extra = { ...object.extra, policy };
  completeIssue(vault, object, version, issued, body, vault.nowSeconds());
  return ok(certificatesSpec.bundle(vault, object, version));
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
    { method: 'POST', pattern: 'certificates/:name/import', handle: (r, p) => importCertificate(r, p['name']!) },
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
