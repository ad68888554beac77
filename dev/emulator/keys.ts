/** Keys: create (real RSA/EC material from node:crypto), import, rotate, the key operations (crypto.ts), plus the shared family routes. */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { cryptoRoutes } from './crypto';
import { badParameter } from './errors';
import { objectBody, ok, versionFromBody, type ApiRequest, type ApiResponse, type Route } from './api';
import { familyRoutes, type FamilySpec } from './family';
import { attributesJson, type KeyPayload, type Vault } from './vault';
import type { StoredObject, StoredVersion } from './vault-store';

const generate = promisify(generateKeyPair) as (
  type: 'rsa' | 'ec',
  options: { modulusLength?: number; publicExponent?: number; namedCurve?: string },
) => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;

const RSA_SIZES = [2048, 3072, 4096];
const CURVES: Record<string, string> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
  'P-256K': 'secp256k1',
};
const KEY_TYPES = ['RSA', 'RSA-HSM', 'EC', 'EC-HSM'];
const KEY_OPS = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey', 'import', 'export'];
const DEFAULT_OPS: Record<string, string[]> = {
  RSA: ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'],
  EC: ['sign', 'verify'],
};
const PUBLIC_MEMBERS: Record<string, string[]> = { RSA: ['n', 'e'], EC: ['crv', 'x', 'y'] };

/** The public JWK Key Vault answers with (`kid`, `kty`, `key_ops` and the public members only). */
export function publicJwk(vault: Vault, name: string, version: StoredVersion<KeyPayload>): Record<string, unknown> {
  const { payload } = version;
  const family = payload.kty.startsWith('EC') ? 'EC' : 'RSA';
  const jwk: Record<string, unknown> = {
    kid: vault.objectId('keys', name, version.version),
    kty: payload.kty,
    key_ops: payload.keyOps,
  };
  for (const member of PUBLIC_MEMBERS[family] ?? []) jwk[member] = payload.jwk[member];
  return jwk;
}

function keyAttributes(version: StoredVersion<KeyPayload>): Record<string, unknown> {
  return attributesJson(version, { exportable: version.payload.exportable ?? false });
}

const keysSpec: FamilySpec<KeyPayload> = {
  kind: 'key',
  collection: 'keys',
  store: (vault) => vault.keys,
  bundle: (vault, object, version) => ({
    key: publicJwk(vault, object.name, version),
    attributes: keyAttributes(version),
    ...(version.tags ? { tags: version.tags } : {}),
    ...(version.managed ? { managed: true } : {}),
  }),
  item: (vault, object, version) => ({
    kid: vault.objectId('keys', object.name, version.version),
    attributes: keyAttributes(version),
    ...(version.tags ? { tags: version.tags } : {}),
    ...(version.managed ? { managed: true } : {}),
  }),
  applyUpdate: (_vault, _object, version, body) => {
    if (body['key_ops'] !== undefined) version.payload.keyOps = parseKeyOps(body['key_ops']);
  },
};

function parseKeyOps(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.some((op) => typeof op !== 'string' || !KEY_OPS.includes(op))) {
    throw badParameter(`Invalid key_ops: ${JSON.stringify(raw)}. Allowed: ${KEY_OPS.join(', ')}.`);
  }
  return raw as string[];
}

/** Generates key material for a create/rotate body. */
export async function generateKeyMaterial(body: Record<string, unknown>): Promise<Omit<KeyPayload, 'exportable'>> {
  const kty = body['kty'];
  if (typeof kty !== 'string' || !KEY_TYPES.includes(kty)) {
    throw badParameter(`The specified key type (${String(kty)}) is not supported. Supported: ${KEY_TYPES.join(', ')}.`);
  }
  const family = kty.startsWith('EC') ? 'EC' : 'RSA';
  const keyOps = body['key_ops'] === undefined ? DEFAULT_OPS[family]! : parseKeyOps(body['key_ops']);
  if (family === 'RSA') {
    const size = body['key_size'] ?? 2048;
    if (typeof size !== 'number' || !RSA_SIZES.includes(size)) {
      throw badParameter(
        `The specified RSA key size (${JSON.stringify(size)}) is not supported. Supported: ${RSA_SIZES.join(', ')}.`,
      );
    }
    const exponent = typeof body['public_exponent'] === 'number' ? body['public_exponent'] : 65537;
    // node:crypto refuses an even or fractional exponent; the service answers 400, not a 500.
    if (!Number.isSafeInteger(exponent) || exponent < 3 || exponent % 2 === 0) {
      throw badParameter(
        `The specified RSA public exponent (${exponent}) is not supported: it must be an odd integer of at least 3.`,
      );
    }
    const { privateKey } = await generate('rsa', { modulusLength: size, publicExponent: exponent });
    return { kty, keyOps, jwk: privateKey.export({ format: 'jwk' }) };
  }
  const crv = body['crv'] ?? 'P-256';
  const namedCurve = typeof crv === 'string' ? CURVES[crv] : undefined;
  if (!namedCurve) {
    throw badParameter(
      `The specified curve (${JSON.stringify(crv)}) is not supported. Supported: ${Object.keys(CURVES).join(', ')}.`,
    );
  }
  const { privateKey } = await generate('ec', { namedCurve });
  return { kty, keyOps, jwk: { ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>), crv } };
}

/** Adds a generated version to a key; also used for a certificate's managed key. */
export function addKeyVersion(
  vault: Vault,
  name: string,
  material: Omit<KeyPayload, 'exportable'>,
  body: Record<string, unknown>,
  options: { managed?: boolean; versionId?: string } = {},
): { object: StoredObject<KeyPayload>; version: StoredVersion<KeyPayload> } {
  const exportable = body['exportable'] === true;
  const payload = { ...material, ...(exportable ? { exportable } : {}) };
  return vault.keys.addVersion(name, versionFromBody(body, payload, options.managed), options.versionId);
}

async function createKey(request: ApiRequest, name: string): Promise<ApiResponse> {
  const body = objectBody(request);
  request.vault.keys.assertNameUsable(name);
  const material = await generateKeyMaterial(body);
  const { object, version } = addKeyVersion(request.vault, name, material, body);
  request.vault.newVersion('key', object, version);
  return ok(keysSpec.bundle(request.vault, object, version));
}

function importKey(request: ApiRequest, name: string): ApiResponse {
  const body = objectBody(request);
  const jwk = body['key'] as Record<string, unknown> | undefined;
  if (!jwk || typeof jwk !== 'object' || typeof jwk['kty'] !== 'string')
    throw badParameter('Property key is required.');
  const kty = String(jwk['kty']);
  if (!KEY_TYPES.includes(kty)) throw badParameter(`The specified key type (${kty}) is not supported.`);
  const family = kty.startsWith('EC') ? 'EC' : 'RSA';
  const keyOps = jwk['key_ops'] === undefined ? DEFAULT_OPS[family]! : parseKeyOps(jwk['key_ops']);
  const material = { kty: body['hsm'] === true && !kty.endsWith('-HSM') ? `${kty}-HSM` : kty, keyOps, jwk: { ...jwk } };
  const { object, version } = addKeyVersion(request.vault, name, material, body);
  request.vault.newVersion('key', object, version);
  return ok(keysSpec.bundle(request.vault, object, version));
}

async function rotateKey(request: ApiRequest, name: string): Promise<ApiResponse> {
  const current = request.vault.keys.version(name, '').version;
  const { payload } = current;
  const family = payload.kty.startsWith('EC') ? 'EC' : 'RSA';
  const size = family === 'RSA' ? Buffer.from(String(payload.jwk['n']), 'base64url').length * 8 : undefined;
  const material = await generateKeyMaterial({
    kty: payload.kty,
    key_size: size,
    crv: payload.jwk['crv'],
    key_ops: payload.keyOps,
  });
  const body = { tags: current.tags, exportable: payload.exportable };
  const { object, version } = addKeyVersion(request.vault, name, material, body);
  request.vault.newVersion('key', object, version);
  return ok(keysSpec.bundle(request.vault, object, version));
}

/** Every key route. */
export const keyRoutes: Route[] = [
  { method: 'POST', pattern: 'keys/:name/create', handle: (r, p) => createKey(r, p['name']!) },
  { method: 'POST', pattern: 'keys/:name/rotate', handle: (r, p) => rotateKey(r, p['name']!) },
  { method: 'PUT', pattern: 'keys/:name', handle: (r, p) => importKey(r, p['name']!) },
  ...cryptoRoutes,
  ...familyRoutes(keysSpec),
];

export { keysSpec };
