/**
 * Entra ID stand-ins for tests: a local RSA signing key published as a JWKS, and tokens signed with it the way Entra
 * ID signs access tokens (RS256, `kid`, tenant issuer, app audience, `roles`). kvguard's verifier checks them with
 * `jose` exactly as it checks real tokens; only where the keys come from differs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { createEntraTokenVerifier, entraIssuers } from '../../src/adapters/entra-id-tokens';
import type { PrincipalVerifier } from '../../src/core/ports';

/** The tenant and audience every test token is for. */
export const TEST_TENANT = '72f988bf-0000-4000-8000-00000000c0de';
export const TEST_AUDIENCE = 'api://kvguard-test';

/** A signing key with its public JWK. */
export interface TestSigningKey {
  kid: string;
  privateKey: KeyObject;
  jwks: JSONWebKeySet;
}

/** A fresh RSA-2048 signing key. */
export function testSigningKey(kid = 'test-key-1'): TestSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, jwks: { keys: [jwk] } };
}

/** The key the tenant publishes in these tests. */
export const tenantKey = testSigningKey();

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A signed access token: the claims are merged over a valid default (tenant v2 issuer, test audience, an hour of
 * lifetime); `key` signs it (default the tenant's key).
 */
export function signedToken(claims: Record<string, unknown> = {}, key: TestSigningKey = tenantKey): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: entraIssuers(TEST_TENANT)[0],
    aud: TEST_AUDIENCE,
    iat: now,
    nbf: now - 5,
    exp: now + 3600,
    tid: TEST_TENANT,
    oid: '00000000-0000-4000-8000-0000000000a1',
    ...claims,
  };
  const signingInput = `${b64url({ alg: 'RS256', typ: 'JWT', kid: key.kid })}.${b64url(payload)}`;
  return `${signingInput}.${sign('RSA-SHA256', Buffer.from(signingInput), key.privateKey).toString('base64url')}`;
}

/** `Authorization` header of a caller with a name and app roles. */
export function bearer(name: string, roles: string[], claims: Record<string, unknown> = {}): Record<string, string> {
  return { authorization: `Bearer ${signedToken({ preferred_username: name, roles, ...claims })}` };
}

/** kvguard's verifier over the tenant's key set, held locally. */
export function testPrincipalVerifier(): PrincipalVerifier {
  return createEntraTokenVerifier({
    tenantId: TEST_TENANT,
    audiences: [TEST_AUDIENCE],
    keys: createLocalJWKSet(tenantKey.jwks),
  });
}

/** Serves the tenant's JWKS over HTTP on a free port (what `KVGUARD_AUTH_JWKS_URL` points at in tests). */
export async function serveJwks(
  jwks: JSONWebKeySet = tenantKey.jwks,
): Promise<{ url: string; requests: () => number; stop(): Promise<void> }> {
  let requests = 0;
  const server: Server = createServer((_request, response) => {
    requests += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/discovery/v2.0/keys`,
    requests: () => requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
