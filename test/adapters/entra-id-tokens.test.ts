import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntraTokenVerifier } from '../../src/adapters/entra-id-tokens';
import { serveJwks, signedToken, TEST_AUDIENCE, TEST_TENANT, testSigningKey } from '../support/entra';

let jwks: Awaited<ReturnType<typeof serveJwks>>;

beforeAll(async () => {
  jwks = await serveJwks();
});

afterAll(async () => {
  await jwks?.stop();
});

const verifier = () =>
  createEntraTokenVerifier({ tenantId: TEST_TENANT, audiences: [TEST_AUDIENCE], jwksUrl: jwks.url });

describe('Entra ID token verifier over the tenant JWKS endpoint', () => {
  it('accepts a token signed by a key of the tenant and reads roles only from the roles claim', async () => {
    const principal = await verifier().verify(
      signedToken({ preferred_username: 'alice@contoso.com', roles: ['kvguard.Restore'], groups: ['kvguard.Admin'] }),
    );
    expect(principal).toEqual({
      name: 'alice@contoso.com',
      objectId: '00000000-0000-4000-8000-0000000000a1',
      roles: ['kvguard.Restore'],
    });
    expect(jwks.requests()).toBeGreaterThan(0);
  });

  it('accepts v1 tokens of the tenant (sts.windows.net issuer) and names an application by its id', async () => {
    const principal = await verifier().verify(
      signedToken({ iss: `https://sts.windows.net/${TEST_TENANT}/`, appid: 'app-123', oid: undefined, roles: [] }),
    );
    expect(principal).toEqual({ name: 'app-123', roles: [] });
  });

  it.each([
    ['another key', () => signedToken({}, testSigningKey('other-key')), 'not signed by a key of the tenant'],
    ['an unsigned token', () => `${signedToken().split('.').slice(0, 2).join('.')}.`, 'signature'],
    ['another audience', () => signedToken({ aud: 'api://other' }), 'aud claim'],
    ['no expiry', () => signedToken({ exp: undefined }), 'exp'],
  ])('refuses a token with %s as Unauthorized, naming the check', async (_label, token, reason) => {
    await expect(verifier().verify(token())).rejects.toMatchObject({
      code: 'Unauthorized',
      message: expect.stringContaining(reason),
    });
  });

  it('answers a retryable failure when the signing keys cannot be fetched', async () => {
    const unreachable = createEntraTokenVerifier({
      tenantId: TEST_TENANT,
      audiences: [TEST_AUDIENCE],
      jwksUrl: 'http://127.0.0.1:9/keys',
    });
    await expect(unreachable.verify(signedToken())).rejects.toMatchObject({ code: 'Transient' });
  });
});
