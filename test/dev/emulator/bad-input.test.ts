import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startTestEmulator, type TestEmulator } from '../../support/emulator';

describe('emulator: malformed requests get the service 4xx envelope, never a crash', () => {
  let emulator: TestEmulator;
  const send = (path: string, init?: Parameters<typeof rawRequest>[3]) =>
    rawRequest(emulator.url, emulator.caCertPem, path, init);

  beforeAll(async () => {
    emulator = await startTestEmulator();
  });
  afterAll(() => emulator.stop());

  it('challenges a request without a bearer token like Key Vault', async () => {
    const answer = await send('/secrets/a?api-version=2025-07-01', { token: null });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(
      /^Bearer authorization="https:\/\/login\.microsoftonline\.com\/[0-9a-f-]{36}", resource="https:\/\/vault\.azure\.net"$/,
    );
    expect(answer.body).toEqual({
      error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer, PoP, or MTLS_POP token.' },
    });
  });

  it('refuses an unknown api-version and accepts a percent-encoded query name', async () => {
    const unknown = await send('/secrets?api-version=7.9');
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({
      error: {
        code: 'BadParameter',
        message:
          'The specified version (7.9) is not recognized. Consider using the latest supported version (2025-07-01).',
      },
    });
    expect((await send('/secrets?api%2Dversion=2025-07-01')).status).toBe(200);
    expect((await send('/secrets')).status).toBe(400);
  });

  it('refuses bad JSON, a non-object body and a missing value', async () => {
    const badJson = await send('/secrets/a?api-version=7.6', { method: 'PUT', body: '{"value": ' });
    expect(badJson.status).toBe(400);
    expect(badJson.body).toMatchObject({ error: { code: 'BadParameter' } });
    expect((await send('/secrets/a?api-version=7.6', { method: 'PUT', body: '[1,2]' })).status).toBe(400);
    expect((await send('/secrets/a?api-version=7.6', { method: 'PUT', body: '{"value": 5}' })).status).toBe(400);
    expect(
      (await send('/keys/a/create?api-version=7.6', { method: 'POST', body: '{"kty":"RSA","key_size":1024}' })).status,
    ).toBe(400);
    expect(
      (await send('/keys/a/create?api-version=7.6', { method: 'POST', body: '{"kty":"EC","crv":"P-999"}' })).status,
    ).toBe(400);
    expect(
      (await send('/keys/a/create?api-version=7.6', { method: 'POST', body: '{"kty":"RSA","public_exponent":4}' }))
        .status,
    ).toBe(400);
    expect(
      (await send('/secrets/a?api-version=7.6', { method: 'PUT', body: '{"value":"x","attributes":{"exp":"soon"}}' }))
        .status,
    ).toBe(400);
  });

  it('refuses names that are too long or hold illegal characters', async () => {
    const tooLong = await send(`/secrets/${'a'.repeat(128)}?api-version=7.6`, { method: 'PUT', body: '{"value":"x"}' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body).toEqual({
      error: { code: 'BadParameter', message: `The request URI contains an invalid name: ${'a'.repeat(128)}` },
    });
    const illegal = await send('/keys/bad_name/create?api-version=7.6', { method: 'POST', body: '{"kty":"RSA"}' });
    expect(illegal.body).toEqual({
      error: { code: 'BadParameter', message: 'The request URI contains an invalid name: bad_name' },
    });
    expect((await send('/secrets/a%2Fb?api-version=7.6')).status).toBe(400);
    expect(
      (await send(`/secrets/${'a'.repeat(127)}?api-version=7.6`, { method: 'PUT', body: '{"value":"x"}' })).status,
    ).toBe(200);
  });

  it('answers a wrong method, an unknown path and an out-of-range maxresults', async () => {
    const wrongMethod = await send('/keys/a/create?api-version=7.6', { method: 'GET' });
    expect(wrongMethod.status).toBe(404); // GET /keys/{name}/{version}: an unknown version
    const put = await send('/keys/restore?api-version=7.6', { method: 'PUT', body: '{}' });
    expect(put.status).toBe(400); // PUT /keys/{name}: import needs a key
    const deleteBackup = await send('/keys/a/backup?api-version=7.6', { method: 'DELETE' });
    expect(deleteBackup.status).toBe(405);
    expect(deleteBackup.body).toEqual({ error: { code: 'MethodNotAllowed', message: 'HTTP DELETE not allowed' } });
    const unknown = await send('/nothing/here?api-version=7.6');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'NotFound' } });
    expect((await send('/secrets?api-version=7.6&maxresults=26')).status).toBe(400);
    expect((await send('/secrets?api-version=7.6&$skiptoken=garbage')).status).toBe(400);
  });

  it('refuses a certificate create it could not finish when the request comes, and keeps serving after its pending time', async () => {
    const create = (name: string, extra: Record<string, unknown> = {}) =>
      send(`/certificates/${name}/create?api-version=7.6`, {
        method: 'POST',
        body: JSON.stringify({ policy: { x509_props: { subject: 'CN=x' } }, ...extra }),
      });
    const badAttributes = await create('cert-bad-attributes', { attributes: { enabled: 'yes' } });
    expect(badAttributes.status).toBe(400);
    expect(badAttributes.body).toMatchObject({ error: { code: 'BadParameter' } });

    // A soft-deleted key of the same name blocks the certificate's managed key.
    expect(
      (await send('/keys/cert-taken/create?api-version=7.6', { method: 'POST', body: '{"kty":"EC"}' })).status,
    ).toBe(200);
    expect((await send('/keys/cert-taken?api-version=7.6', { method: 'DELETE' })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const taken = await create('cert-taken');
    expect(taken.status).toBe(409);
    expect(taken.body).toMatchObject({
      error: { code: 'Conflict', innererror: { code: 'ObjectIsDeletedButRecoverable' } },
    });

    await new Promise((resolve) => setTimeout(resolve, 60));
    expect((await send('/certificates?api-version=7.6')).status).toBe(200);
  });

  it('answers a missing object with the service not-found envelope', async () => {
    const missing = await send('/keys/missing?api-version=7.6');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: 'KeyNotFound' } });
    expect((await send('/deletedsecrets/missing?api-version=7.6')).body).toEqual({
      error: { code: 'SecretNotFound', message: 'Deleted Secret not found: missing' },
    });
  });

  it('answers 400, never 500, for key material or a certificate subject it cannot use', async () => {
    const badJwk = await send('/keys/bad-jwk?api-version=7.6', {
      method: 'PUT',
      body: JSON.stringify({ key: { kty: 'RSA', n: 'AQAB', e: 'AQAB', d: 'not-a-key' } }),
    });
    expect(badJwk.status).toBe(400);
    expect(badJwk.body).toMatchObject({ error: { code: 'BadParameter' } });
    expect(badJwk.text).not.toContain('not-a-key');
    const missingMembers = await send('/keys/bad-ec?api-version=7.6', {
      method: 'PUT',
      body: JSON.stringify({ key: { kty: 'EC', crv: 'P-256' } }),
    });
    expect(missingMembers.status).toBe(400);
    const oddSubject = await send('/certificates/odd/create?api-version=7.6', {
      method: 'POST',
      body: JSON.stringify({ policy: { x509_props: { subject: 'notanattribute=x' }, issuer: { name: 'Self' } } }),
    });
    expect(oddSubject.status).toBe(400);
    expect(oddSubject.body).toMatchObject({ error: { code: 'BadParameter' } });
  });
});
