/**
 * Key Vault's key operations (`POST /keys/{name}[/{version}]/encrypt|decrypt|sign|verify|wrapkey|unwrapkey`) and
 * `POST /rng`, done with node:crypto on the key material the vault stores. Answers follow the service where its
 * answer is known (sources in the comments); where it is not, the message is ours and says so.
 */
import {
  constants,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { badParameter, keyDisabled, keyOutsideValidity, operationForbidden, unsupportedAlgorithm } from './errors';
import { objectBody, ok, type ApiRequest, type ApiResponse, type Route } from './api';
import * as prehashed from './prehashed';
import type { KeyPayload } from './vault';
import type { StoredVersion } from './vault-store';

/** A key operation as `key_ops` names it. */
export type KeyOperation = 'encrypt' | 'decrypt' | 'sign' | 'verify' | 'wrapKey' | 'unwrapKey';

const PATH_OPERATIONS: Record<string, KeyOperation> = {
  encrypt: 'encrypt',
  decrypt: 'decrypt',
  sign: 'sign',
  verify: 'verify',
  wrapkey: 'wrapKey',
  unwrapkey: 'unwrapKey',
};

// Key Vault only blocks the private-key operations on a disabled key (azure-sdk-for-python#45342, measured on a
// live vault), and only the "new data" operations outside nbf/exp ("Date-time controlled operations" in
// learn.microsoft.com/azure/key-vault/keys/about-keys-details: decrypt, unwrap and verify keep working).
const BLOCKED_WHEN_DISABLED = new Set<KeyOperation>(['decrypt', 'sign', 'unwrapKey']);
const BLOCKED_OUTSIDE_VALIDITY = new Set<KeyOperation>(['encrypt', 'sign', 'wrapKey']);

const ENCRYPTION: Record<string, { padding: number; oaepHash?: string }> = {
  'RSA-OAEP': { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
  'RSA-OAEP-256': { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
  RSA1_5: { padding: constants.RSA_PKCS1_PADDING },
};

type Signing = { kind: 'pkcs1' | 'pss' | 'ecdsa'; hash: prehashed.DigestName; curve?: string };
const SIGNING: Record<string, Signing> = {
  RS256: { kind: 'pkcs1', hash: 'sha256' },
  RS384: { kind: 'pkcs1', hash: 'sha384' },
  RS512: { kind: 'pkcs1', hash: 'sha512' },
  PS256: { kind: 'pss', hash: 'sha256' },
  PS384: { kind: 'pss', hash: 'sha384' },
  PS512: { kind: 'pss', hash: 'sha512' },
  ES256: { kind: 'ecdsa', hash: 'sha256', curve: 'P-256' },
  ES256K: { kind: 'ecdsa', hash: 'sha256', curve: 'P-256K' },
  ES384: { kind: 'ecdsa', hash: 'sha384', curve: 'P-384' },
  ES512: { kind: 'ecdsa', hash: 'sha512', curve: 'P-521' },
};

const MAX_RANDOM_BYTES = 128;

function requiredString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw badParameter(`Property ${field} is required.`);
  return value;
}

/** Decodes a base64url request field; the message names the field, never its content. */
function base64UrlField(body: Record<string, unknown>, field: string): Buffer {
  const value = requiredString(body, field);
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(value) || value.replace(/=+$/, '').length % 4 === 1) {
    throw badParameter(`Property ${field} is not a valid base64url value.`);
  }
  return Buffer.from(value, 'base64url');
}

function assertUsable(version: StoredVersion<KeyPayload>, operation: KeyOperation, now: number): void {
  const { enabled, nbf, exp } = version.attributes;
  if (!enabled && BLOCKED_WHEN_DISABLED.has(operation)) throw keyDisabled(operation);
  if (BLOCKED_OUTSIDE_VALIDITY.has(operation)) {
    if (exp !== undefined && now >= exp) throw keyOutsideValidity(operation, true);
    if (nbf !== undefined && now < nbf) throw keyOutsideValidity(operation, false);
  }
  if (!version.payload.keyOps.includes(operation)) throw operationForbidden(operation);
}

function family(payload: KeyPayload): 'RSA' | 'EC' {
  return payload.kty.startsWith('EC') ? 'EC' : 'RSA';
}

function rsaKey(payload: KeyPayload, visibility: 'public' | 'private'): KeyObject {
  const { n, e, d, p, q, dp, dq, qi } = payload.jwk;
  if (visibility === 'public') return createPublicKey({ key: { kty: 'RSA', n, e } as never, format: 'jwk' });
  // An imported key always carries its private half (import requires it); guard anyway, without a 500.
  if (typeof d !== 'string') throw badParameter('The key has no private material for this operation.');
  return createPrivateKey({ key: { kty: 'RSA', n, e, d, p, q, dp, dq, qi } as never, format: 'jwk' });
}

/** RSAES-PKCS1-v1_5 decryption done by hand: Node 20 refuses that padding for private decryption (CVE-2023-46809). */
function unpadPkcs1(block: Buffer): Buffer | undefined {
  const separator = block.indexOf(0, 2);
  if (block[0] !== 0 || block[1] !== 2 || separator < 10) return undefined;
  return block.subarray(separator + 1);
}

function cipher(payload: KeyPayload, operation: KeyOperation, body: Record<string, unknown>): Buffer {
  const algorithm = requiredString(body, 'alg');
  const value = base64UrlField(body, 'value');
  const scheme = ENCRYPTION[algorithm];
  if (!scheme || family(payload) !== 'RSA') throw unsupportedAlgorithm(algorithm, payload.kty);
  const oaep = scheme.oaepHash ? { oaepHash: scheme.oaepHash } : {};
  if (operation === 'encrypt' || operation === 'wrapKey') {
    try {
      return publicEncrypt({ key: rsaKey(payload, 'public'), padding: scheme.padding, ...oaep }, value);
    } catch {
      // Our message: the plaintext is longer than the key and padding allow.
      throw badParameter(`Property value is too long for algorithm ${algorithm} with this key.`);
    }
  }
  const key = rsaKey(payload, 'private');
  try {
    if (algorithm === 'RSA1_5') {
      const plain = unpadPkcs1(privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, value));
      if (plain) return plain;
    } else {
      return privateDecrypt({ key, padding: scheme.padding, ...oaep }, value);
    }
  } catch {
    // fall through to the service's 400
  }
  // Our message: the service's exact text for a ciphertext that does not decrypt was not found.
  throw badParameter(`The value could not be decrypted with algorithm ${algorithm}.`);
}

function signing(payload: KeyPayload, kid: string, algorithm: string, digest: Buffer, field: string): Signing {
  const scheme = SIGNING[algorithm];
  if (!scheme || (scheme.kind === 'ecdsa') !== (family(payload) === 'EC'))
    throw unsupportedAlgorithm(algorithm, payload.kty);
  const crv = String(payload.jwk['crv']);
  if (scheme.curve && crv !== scheme.curve) {
    // azure-sdk-for-java#6262, azure-sdk-for-node#4603.
    throw badParameter(
      `Key and signing algorithm are incompatible. Key ${kid} uses curve '${crv}', and algorithm '${algorithm}' can only be used with curve '${scheme.curve}'.`,
    );
  }
  const expected = prehashed.DIGEST_LENGTH[scheme.hash];
  if (digest.length !== expected) {
    // azure-sdk-for-js#12654, azure-cli#28027 (sign); verify's `digest` field is named the same way by analogy.
    throw badParameter(
      `Invalid length of '${field}': ${digest.length} bytes. ${algorithm} requires ${expected} bytes, encoded with base64url.`,
    );
  }
  return scheme;
}

function sign(payload: KeyPayload, kid: string, body: Record<string, unknown>): Buffer {
  const algorithm = requiredString(body, 'alg');
  const digest = base64UrlField(body, 'value');
  const scheme = signing(payload, kid, algorithm, digest, 'value');
  if (scheme.kind === 'ecdsa') {
    if (typeof payload.jwk['d'] !== 'string') throw badParameter('The key has no private material for this operation.');
    return prehashed.ecdsaSign(scheme.curve!, payload.jwk, digest);
  }
  const key = rsaKey(payload, 'private');
  return scheme.kind === 'pss'
    ? prehashed.rsaPssSign(key, scheme.hash, digest)
    : prehashed.rsaPkcs1Sign(key, scheme.hash, digest);
}

function verify(payload: KeyPayload, kid: string, body: Record<string, unknown>): boolean {
  const algorithm = requiredString(body, 'alg');
  const digest = base64UrlField(body, 'digest');
  const signature = base64UrlField(body, 'value');
  const scheme = signing(payload, kid, algorithm, digest, 'digest');
  if (scheme.kind === 'ecdsa') return prehashed.ecdsaVerify(scheme.curve!, payload.jwk, digest, signature);
  const key = rsaKey(payload, 'public');
  return scheme.kind === 'pss'
    ? prehashed.rsaPssVerify(key, scheme.hash, digest, signature)
    : prehashed.rsaPkcs1Verify(key, scheme.hash, digest, signature);
}

function keyOperation(request: ApiRequest, name: string, versionId: string, operation: KeyOperation): ApiResponse {
  const body = objectBody(request);
  const { object, version } = request.vault.keys.version(name, versionId);
  assertUsable(version, operation, request.vault.nowSeconds());
  const kid = request.vault.objectId('keys', object.name, version.version);
  if (operation === 'verify') return ok({ value: verify(version.payload, kid, body) });
  const result = operation === 'sign' ? sign(version.payload, kid, body) : cipher(version.payload, operation, body);
  return ok({ kid, value: result.toString('base64url') });
}

function randomBytesAnswer(request: ApiRequest): ApiResponse {
  const count = objectBody(request)['count'];
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_RANDOM_BYTES) {
    // Bounds from the REST spec (GetRandomBytesRequest.count: 1..128); the message is ours.
    throw badParameter(
      `Invalid value for count: ${JSON.stringify(count)}. The value must be between 1 and ${MAX_RANDOM_BYTES}.`,
    );
  }
  return ok({ value: randomBytes(count).toString('base64url') });
}

/** The key-operation routes (with and without a version: the SDK sends `/keys/{name}//encrypt` for the latest) and `/rng`. */
export const cryptoRoutes: Route[] = [
  ...Object.entries(PATH_OPERATIONS).flatMap(([segment, operation]): Route[] => [
    {
      method: 'POST',
      pattern: `keys/:name/:version/${segment}`,
      handle: (r, p) => keyOperation(r, p['name']!, p['version']!, operation),
    },
    { method: 'POST', pattern: `keys/:name/${segment}`, handle: (r, p) => keyOperation(r, p['name']!, '', operation) },
  ]),
  { method: 'POST', pattern: 'rng', handle: randomBytesAnswer },
];
