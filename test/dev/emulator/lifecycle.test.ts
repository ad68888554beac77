import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyClient, KeyProperties } from '@azure/keyvault-keys';
import type { SecretClient, SecretProperties } from '@azure/keyvault-secrets';
import { parseKeyVaultKeyIdentifier } from '@azure/keyvault-keys';
import { rawRequest, sdkClients, startTestEmulator, type TestEmulator } from '../../support/emulator';

const POLL = { intervalInMs: 10 };
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** How long a purged name stays blocked: long enough that the calls right after a purge still see it on a busy machine. */
const PURGE_CONFLICT_MS = 1_500;
const afterPurgeConflict = () => wait(PURGE_CONFLICT_MS + 120);

async function keyVersions(
  keys: KeyClient,
  name: string,
): Promise<Pick<KeyProperties, 'id' | 'createdOn' | 'updatedOn' | 'tags'>[]> {
  const versions: Pick<KeyProperties, 'id' | 'createdOn' | 'updatedOn' | 'tags'>[] = [];
  for await (const { id, createdOn, updatedOn, tags } of keys.listPropertiesOfKeyVersions(name)) {
    versions.push({ id, createdOn, updatedOn, tags });
  }
  return versions.sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

async function secretVersions(
  secrets: SecretClient,
  name: string,
): Promise<Pick<SecretProperties, 'id' | 'createdOn' | 'contentType'>[]> {
  const versions: Pick<SecretProperties, 'id' | 'createdOn' | 'contentType'>[] = [];
  for await (const { id, createdOn, contentType } of secrets.listPropertiesOfSecretVersions(name)) {
    versions.push({ id, createdOn, contentType });
  }
  return versions.sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

describe('emulator: key and secret lifecycle through the unchanged SDKs', () => {
  let emulator: TestEmulator;
  let clients: ReturnType<typeof sdkClients>;

  beforeAll(async () => {
    emulator = await startTestEmulator({
      vaults: [{ name: 'lifecycle' }, { name: 'other' }],
      purgeConflictMs: PURGE_CONFLICT_MS,
    });
    clients = sdkClients(emulator.url, emulator.caCertPem);
  });
  afterAll(() => emulator.stop());

  it('backs up, refuses restore while deleted, and after purge restores every version with ids and timestamps', async () => {
    const { keys } = clients;
    await keys.createRsaKey('payments', { keySize: 2048, tags: { kvguard: 'critical' } });
    const newest = await keys.createEcKey('payments', { curve: 'P-256' });
    const before = await keyVersions(keys, 'payments');
    expect(before).toHaveLength(2);
    const backup = await keys.backupKey('payments');

    await (await keys.beginDeleteKey('payments', POLL)).pollUntilDone();
    await expect(keys.restoreKeyBackup(backup!)).rejects.toMatchObject({ statusCode: 409, code: 'Conflict' });

    await keys.purgeDeletedKey('payments');
    // like Key Vault: gone from both views at once, yet the name stays blocked for a moment
    await expect(keys.getDeletedKey('payments')).rejects.toMatchObject({ statusCode: 404 });
    await expect(keys.restoreKeyBackup(backup!)).rejects.toMatchObject({
      statusCode: 409,
      message: 'Key payments is currently being deleted and cannot be re-created; retry later.',
    });
    await afterPurgeConflict();
    const restored = await keys.restoreKeyBackup(backup!);

    expect(restored.properties.version).toBe(newest.properties.version);
    expect(parseKeyVaultKeyIdentifier(restored.id!).name).toBe('payments');
    expect(await keyVersions(keys, 'payments')).toEqual(before);
  });

  it('refuses to restore over a live key and changes nothing', async () => {
    const { keys } = clients;
    const created = await keys.createRsaKey('live-one');
    const backup = await keys.backupKey('live-one');
    await keys.createRsaKey('live-one');
    await expect(keys.restoreKeyBackup(backup!)).rejects.toMatchObject({ statusCode: 409, code: 'Conflict' });
    expect((await keyVersions(keys, 'live-one')).map((v) => v.id)).toContain(created.id);
    expect(await keyVersions(keys, 'live-one')).toHaveLength(2);
  });

  it('recovers a deleted key and a deleted secret with their versions', async () => {
    const { keys, secrets } = clients;
    const key = await keys.createEcKey('recover-me', { curve: 'P-384' });
    await secrets.setSecret('recover-me', 'v1');
    await secrets.setSecret('recover-me', 'v2');
    await (await keys.beginDeleteKey('recover-me', POLL)).pollUntilDone();
    await (await secrets.beginDeleteSecret('recover-me', POLL)).pollUntilDone();

    const deletedKey = await keys.getDeletedKey('recover-me');
    expect(deletedKey.properties.recoveryId).toBe(`${emulator.url}deletedkeys/recover-me`);
    expect(deletedKey.properties.scheduledPurgeDate!.getTime() - deletedKey.properties.deletedOn!.getTime()).toBe(
      90 * 24 * 3600 * 1000,
    );

    await (await keys.beginRecoverDeletedKey('recover-me', POLL)).pollUntilDone();
    await (await secrets.beginRecoverDeletedSecret('recover-me', POLL)).pollUntilDone();
    expect((await keys.getKey('recover-me')).id).toBe(key.id);
    expect((await secrets.getSecret('recover-me')).value).toBe('v2');
    expect(await secretVersions(secrets, 'recover-me')).toHaveLength(2);
  });

  it('answers like Key Vault while a delete is still finishing', async () => {
    const { keys, secrets } = clients;
    emulator.configure({ pendingMs: 300 });
    try {
      await keys.createRsaKey('slow-delete');
      await secrets.setSecret('slow-delete', 'x');
      await keys.beginDeleteKey('slow-delete', { intervalInMs: 10_000 });
      await expect(keys.getDeletedKey('slow-delete')).rejects.toMatchObject({ statusCode: 404, code: 'KeyNotFound' });
      await expect(keys.getKey('slow-delete')).rejects.toMatchObject({ statusCode: 404, code: 'KeyNotFound' });
      const purge = await rawRequest(emulator.url, emulator.caCertPem, '/deletedkeys/slow-delete?api-version=7.6', {
        method: 'DELETE',
      });
      expect(purge.status).toBe(409);
      expect(purge.body).toEqual({
        error: {
          code: 'Conflict',
          message: 'Key is currently being deleted.',
          innererror: { code: 'ObjectIsBeingDeleted' },
        },
      });
      await expect(keys.createRsaKey('slow-delete')).rejects.toMatchObject({
        statusCode: 409,
        message: 'Key slow-delete is currently being deleted and cannot be re-created; retry later.',
      });
      await wait(350);
      await expect(keys.createRsaKey('slow-delete')).rejects.toMatchObject({ statusCode: 409, code: 'Conflict' });
      expect((await keys.getDeletedKey('slow-delete')).name).toBe('slow-delete');

      await keys.beginRecoverDeletedKey('slow-delete', { intervalInMs: 10_000 });
      await expect(keys.getKey('slow-delete')).rejects.toMatchObject({ statusCode: 404 });
      const setDuringRecover = await rawRequest(
        emulator.url,
        emulator.caCertPem,
        '/keys/slow-delete/create?api-version=7.6',
        {
          method: 'POST',
          body: JSON.stringify({ kty: 'RSA' }),
        },
      );
      expect(setDuringRecover.body).toMatchObject({
        error: { code: 'Conflict', innererror: { code: 'ObjectIsBeingRecovered' } },
      });
      await wait(350);
      expect((await keys.getKey('slow-delete')).name).toBe('slow-delete');
    } finally {
      emulator.configure({ pendingMs: 20 });
    }
  });

  it('refuses to reuse a soft-deleted secret name with the service answer', async () => {
    const { secrets } = clients;
    await secrets.setSecret('gone', 'x');
    await (await secrets.beginDeleteSecret('gone', POLL)).pollUntilDone();
    const error = await secrets.setSecret('gone', 'y').catch((e: unknown) => e);
    expect(error).toMatchObject({
      statusCode: 409,
      code: 'Conflict',
      message:
        'Secret gone is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.',
    });
  });

  it('round-trips a secret backup through purge with values, content types and ids', async () => {
    const { secrets } = clients;
    await secrets.setSecret('db-password', 'one', { contentType: 'text/plain' });
    await secrets.setSecret('db-password', 'two');
    const before = await secretVersions(secrets, 'db-password');
    const backup = await secrets.backupSecret('db-password');
    await (await secrets.beginDeleteSecret('db-password', POLL)).pollUntilDone();
    await secrets.purgeDeletedSecret('db-password');
    await afterPurgeConflict();
    await secrets.restoreSecretBackup(backup!);
    expect(await secretVersions(secrets, 'db-password')).toEqual(before);
    expect((await secrets.getSecret('db-password')).value).toBe('two');
  });

  it('refuses a tampered or malformed backup with the service message', async () => {
    const { keys, secrets } = clients;
    await keys.createRsaKey('tamper');
    const backup = Buffer.from((await keys.backupKey('tamper'))!);
    backup[backup.length - 5] = backup[backup.length - 5]! ^ 0xff;
    await (await keys.beginDeleteKey('tamper', POLL)).pollUntilDone();
    await keys.purgeDeletedKey('tamper');
    await afterPurgeConflict();
    await expect(keys.restoreKeyBackup(backup)).rejects.toMatchObject({
      statusCode: 400,
      code: 'BadParameter',
      message: 'Backup blob contains invalid or corrupt version.',
    });
    await expect(secrets.restoreSecretBackup(new Uint8Array(4728))).rejects.toMatchObject({ statusCode: 400 });
  });

  it("refuses to read out a disabled secret's value, live or deleted, but still lists and backs it up", async () => {
    const { secrets } = clients;
    await secrets.setSecret('disabled-one', 'hidden', { enabled: false });
    const refusal = {
      statusCode: 403,
      code: 'Forbidden',
      message: 'Operation get is not allowed on a disabled secret.',
    };
    await expect(secrets.getSecret('disabled-one')).rejects.toMatchObject(refusal);
    const listed: string[] = [];
    for await (const properties of secrets.listPropertiesOfSecrets()) listed.push(properties.name);
    expect(listed).toContain('disabled-one');
    expect((await secrets.backupSecret('disabled-one'))?.byteLength).toBeGreaterThan(0);
    await (await secrets.beginDeleteSecret('disabled-one')).pollUntilDone();
    await expect(secrets.getDeletedSecret('disabled-one')).rejects.toMatchObject(refusal);
  });

  it('treats names case-insensitively and keeps the original casing', async () => {
    const { keys, secrets } = clients;
    await keys.createRsaKey('MixedCase');
    expect((await keys.getKey('mixedcase')).name).toBe('MixedCase');
    await secrets.setSecret('Api-Token', 'a');
    await secrets.setSecret('API-TOKEN', 'b');
    expect(await secretVersions(secrets, 'api-token')).toHaveLength(2);
  });

  it('pages lists of more than 25 objects with nextLink and honours maxresults', async () => {
    const { secrets } = clients;
    const paging = sdkClients(emulator.vaults[1]!.url, emulator.caCertPem).secrets;
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => paging.setSecret(`page-${String(i).padStart(2, '0')}`, `v${i}`)),
    );
    const pageSizes: number[] = [];
    for await (const page of paging.listPropertiesOfSecrets().byPage({ maxPageSize: 7 })) pageSizes.push(page.length);
    expect(pageSizes).toEqual([7, 7, 7, 7, 2]);
    const names: string[] = [];
    for await (const secret of paging.listPropertiesOfSecrets()) names.push(secret.name);
    expect(names).toHaveLength(30);
    const firstPage = await rawRequest(emulator.vaults[1]!.url, emulator.caCertPem, '/secrets?api-version=7.6');
    expect((firstPage.body as { value: unknown[]; nextLink: string }).value).toHaveLength(25);
    expect((firstPage.body as { nextLink: string }).nextLink).toMatch(/\$skiptoken=/);
    // the first vault is untouched by the second one's writes
    for await (const secret of secrets.listPropertiesOfSecrets()) expect(secret.name.startsWith('page-')).toBe(false);
  });

  it('updates attributes, tags and key_ops of a version', async () => {
    const { keys } = clients;
    const key = await keys.createRsaKey('updatable');
    const expiresOn = new Date(Math.floor(Date.now() / 1000 + 3600) * 1000);
    const updated = await keys.updateKeyProperties('updatable', key.properties.version!, {
      enabled: false,
      expiresOn,
      tags: { team: 'a' },
      keyOps: ['sign', 'verify'],
    });
    expect(updated.properties).toMatchObject({ enabled: false, expiresOn, tags: { team: 'a' } });
    expect(updated.keyOperations).toEqual(['sign', 'verify']);
  });

  it('imports a JWK and rotates a key into a new version of the same type', async () => {
    const { keys } = clients;
    const { generateKeyPairSync } = await import('node:crypto');
    const jwk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'jwk' });
    const bytes = (member: string | undefined) => Buffer.from(String(member), 'base64url');
    const imported = await keys.importKey('imported', {
      kty: 'EC',
      crv: 'P-256',
      keyOps: ['sign', 'verify'],
      x: bytes(jwk.x),
      y: bytes(jwk.y),
      d: bytes(jwk.d),
    });
    expect(Buffer.from(imported.key!.x!)).toEqual(bytes(jwk.x));
    expect(imported.key?.d).toBeUndefined();
    const rotated = await keys.rotateKey('imported');
    expect(rotated.properties.version).not.toBe(imported.properties.version);
    expect(rotated.key).toMatchObject({ kty: 'EC', crv: 'P-256' });
  });

  it('refuses to back up an object with more than 500 versions', async () => {
    const { secrets } = clients;
    for (let i = 0; i < 501; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, 501 - i) }, (_, j) => secrets.setSecret('chatty', `v${i + j}`)),
      );
    }
    await expect(secrets.backupSecret('chatty')).rejects.toMatchObject({ statusCode: 400, code: 'BadParameter' });
  });
});
