import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, sdkClients, startTestEmulator, type TestEmulator } from '../../support/emulator';

const POLL = { intervalInMs: 10 };
const API = 'api-version=2025-07-01';

/** Answers checked against the service's recorded answers (dev/emulator/SOURCES.md names each recording). */
describe('emulator: wire shapes as the service records them', () => {
  let emulator: TestEmulator;
  let clients: ReturnType<typeof sdkClients>;
  const get = (path: string, init?: Parameters<typeof rawRequest>[3]) =>
    rawRequest(emulator.url, emulator.caCertPem, path, init);

  beforeAll(async () => {
    emulator = await startTestEmulator();
    clients = sdkClients(emulator.url, emulator.caCertPem);
  });
  afterAll(() => emulator.stop());

  it('lists objects and deleted objects with version-less ids, and versions by version id', async () => {
    const { keys, secrets } = clients;
    await keys.createRsaKey('shape-key');
    const versions = [];
    for (let index = 0; index < 4; index++)
      versions.push((await secrets.setSecret('shape-secret', `v${index}`)).properties.version!);

    const keyItems = (await get(`/keys?${API}`)).body as { value: { kid: string }[] };
    expect(keyItems.value.map((item) => item.kid)).toEqual([`${emulator.url}keys/shape-key`]);
    const secretItems = (await get(`/secrets?${API}`)).body as { value: { id: string }[] };
    expect(secretItems.value.map((item) => item.id)).toEqual([`${emulator.url}secrets/shape-secret`]);
    const listed = (await get(`/secrets/shape-secret/versions?${API}`)).body as { value: { id: string }[] };
    expect(listed.value.map((item) => item.id.split('/').pop())).toEqual([...versions].sort());

    await (await secrets.beginDeleteSecret('shape-secret', POLL)).pollUntilDone();
    const deletedItems = (await get(`/deletedsecrets?${API}`)).body as { value: Record<string, unknown>[] };
    expect(deletedItems.value).toEqual([
      expect.objectContaining({
        recoveryId: `${emulator.url}deletedsecrets/shape-secret`,
        id: `${emulator.url}secrets/shape-secret`,
      }),
    ]);
  });

  it('never sends a secret value where the service does not: update, delete, get-deleted, recover', async () => {
    const set = await get(`/secrets/quiet?${API}`, { method: 'PUT', body: JSON.stringify({ value: 'hush' }) });
    expect(set.body).toMatchObject({ value: 'hush' });
    const updated = await get(`/secrets/quiet?${API}`, { method: 'PATCH', body: JSON.stringify({ tags: { a: 'b' } }) });
    expect(updated.status).toBe(200);
    expect(updated.body).not.toHaveProperty('value');
    const deleted = await get(`/secrets/quiet?${API}`, { method: 'DELETE' });
    expect(deleted.body).not.toHaveProperty('value');
    expect(deleted.body).toHaveProperty('recoveryId');
    emulator.clock.advance(1_000); // the delete settles on the emulator clock, whatever the machine's load
    const deletedBundle = await get(`/deletedsecrets/quiet?${API}`);
    expect(deletedBundle.status).toBe(200);
    expect(deletedBundle.body).not.toHaveProperty('value');
    const recovered = await get(`/deletedsecrets/quiet/recover?${API}`, { method: 'POST' });
    expect(recovered.status).toBe(200);
    expect(recovered.body).not.toHaveProperty('value');
  });

  it('carries the service headers on every answer and echoes the client request id', async () => {
    const answer = await get(`/keys/absent?${API}`, { headers: { 'x-ms-client-request-id': 'my-request-1' } });
    expect(answer.status).toBe(404);
    expect(answer.headers).toMatchObject({
      'cache-control': 'no-cache',
      pragma: 'no-cache',
      expires: '-1',
      'strict-transport-security': 'max-age=31536000;includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-ms-client-request-id': 'my-request-1',
      'x-ms-keyvault-region': 'westeurope',
      'content-type': 'application/json; charset=utf-8',
    });
    expect(answer.headers['x-ms-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.headers['x-ms-keyvault-service-version']).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(answer.headers['x-ms-keyvault-network-info']).toMatch(/^conn_type=Ipv4;addr=.+;act_addr_fam=InterNetwork;$/);
  });

  it('answers an empty object name with 405 MethodNotAllowed, as recorded', async () => {
    expect((await get(`/secrets/?${API}`, { method: 'PUT', body: '{"value":"x"}' })).body).toEqual({
      error: { code: 'MethodNotAllowed', message: 'HTTP PUT not allowed' },
    });
    const certificate = await get(`/certificates//create?${API}`, { method: 'POST', body: '{"policy":{}}' });
    expect(certificate.status).toBe(405);
    expect(certificate.body).toEqual({ error: { code: 'MethodNotAllowed', message: 'HTTP POST not allowed' } });
  });

  it('answers recover of a name never deleted with the live 404, as recorded', async () => {
    const answer = await get(`/deletedsecrets/never-deleted/recover?${API}`, { method: 'POST' });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({
      error: {
        code: 'SecretNotFound',
        message: expect.stringMatching(/^A secret with \(name\/id\) never-deleted was not found/),
      },
    });
  });

  it('fills in the key attributes the service answers with', async () => {
    const created = (await get(`/keys/attrs/create?${API}`, { method: 'POST', body: '{"kty":"RSA"}' })).body as {
      key: { key_ops: string[] };
      attributes: Record<string, unknown>;
    };
    expect(created.key.key_ops).toEqual(['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey']);
    expect(created.attributes).toMatchObject({ key_size: 2048, exportable: false, hsmPlatform: '0' });
  });
});
