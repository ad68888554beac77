/**
 * Restore end to end: the real adapters (Key Vault SDK clients, Blob and Queue storage) behind `services()`,
 * the Key Vault emulator with two vaults, and Azurite. Backups are taken by the backup use case itself.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useServices, type Services } from '../../src/composition';
import { createServices } from '../../src/composition-adapters';
import { loadConfig } from '../../src/config';
import type { BackupRecord, ObjectType } from '../../src/core/domain';
import { silentLogger } from '../../src/core/ports';
import { runRestoreDrill, verifyBackups } from '../../src/core/verify';
import { backupsFunction } from '../../src/functions/backups';
import { restoreFunction } from '../../src/functions/restore';
import { restoreJobFunction } from '../../src/functions/restore-job';
import { restoreStatusFunction } from '../../src/functions/restore-status';
import { ASYNC_RESTORE_THRESHOLD } from '../../src/core/restore/restore-settings';
import { decodeQueueMessage } from '../../src/adapters/storage-queue';
import { httpRequest, invocationContext } from '../core/restore/function-harness';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { sdkClients, startTestEmulator, type TestEmulator } from '../support/emulator';
import { backUpNow } from '../support/back-up-now';

let emulator: TestEmulator;
let azurite: TestAzurite;
let services: Services;
let prodUrl: string;
let drUrl: string;

beforeAll(async () => {
  [emulator, azurite] = await Promise.all([
    startTestEmulator({ vaults: [{ name: 'prod' }, { name: 'dr-vault' }] }),
    startTestAzurite(),
  ]);
  prodUrl = emulator.vaults[0]!.url;
  drUrl = emulator.vaults[1]!.url;
  const config = loadConfig({
    KVGUARD_VAULTS: JSON.stringify([
      { url: prodUrl, name: 'prod' },
      { url: drUrl, name: 'dr-vault' },
    ]),
    KVGUARD_STORAGE: azurite.connectionString,
    KVGUARD_CONTAINER: uniqueStorageName('restore'),
    KVGUARD_STATE_CONTAINER: uniqueStorageName('state'),
    KVGUARD_RESTORE_QUEUE: uniqueStorageName('restore-jobs'),
    KVGUARD_CREDENTIAL: 'emulator',
    KVGUARD_KEYVAULT_CA_CERT: emulator.caCertPath,
    KVGUARD_REQUIRE_PRINCIPAL: 'false',
  });
  services = createServices(config, silentLogger);
});

afterAll(async () => {
  useServices(undefined);
  await Promise.all([emulator?.stop(), azurite?.stop()]);
});

afterEach(() => useServices(undefined));

/** Backs an object up now with the real adapter and blob store, through the backup use case. */
function backUp(vaultUrl: string, vaultName: string, type: ObjectType, name: string): Promise<BackupRecord> {
  return backUpNow(services, { url: vaultUrl, name: vaultName }, type, name);
}

async function postRestore(body: unknown) {
  useServices(services);
  const response = await restoreFunction.handler(
    httpRequest({ method: 'POST', path: '/api/restore', body }),
    invocationContext('restore'),
  );
  return { status: response.status, body: response.jsonBody as Record<string, any> };
}

async function keyVersionIds(vaultUrl: string, name: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const v of sdkClients(vaultUrl, emulator.caCertPem).keys.listPropertiesOfKeyVersions(name))
    ids.push(v.version!);
  return ids.sort();
}

describe('restore against the emulator and Azurite', () => {
  it('brings a deleted and purged key back over POST /api/restore with every version and the same ids', async () => {
    const { keys } = sdkClients(prodUrl, emulator.caCertPem);
    for (let i = 0; i < 3; i++) await keys.createRsaKey('db-key', { keySize: 2048 });
    const before = await keyVersionIds(prodUrl, 'db-key');
    await backUp(prodUrl, 'prod', 'key', 'db-key');
    await (await keys.beginDeleteKey('db-key', { intervalInMs: 50 })).pollUntilDone();
    await keys.purgeDeletedKey('db-key');

    const response = await postRestore({ vault: prodUrl, objectType: 'key', name: 'db-key' });

    expect(response.status).toBe(200);
    expect(response.body.objects).toEqual([
      expect.objectContaining({ name: 'db-key', outcome: 'restored', versions: 3 }),
    ]);
    expect(await keyVersionIds(prodUrl, 'db-key')).toEqual(before);
    expect(before).toHaveLength(3);
  });

  it('restores a secret into the second vault (cross-vault) with its value and versions intact', async () => {
    const { secrets } = sdkClients(prodUrl, emulator.caCertPem);
    await secrets.setSecret('api-token', 'first-value');
    await secrets.setSecret('api-token', 'second-value');
    await backUp(prodUrl, 'prod', 'secret', 'api-token');

    const response = await postRestore({ vault: 'prod', name: 'api-token', targetVault: 'dr-vault' });

    expect(response.status).toBe(200);
    expect(response.body.objects[0]).toMatchObject({ type: 'secret', outcome: 'restored', versions: 2 });
    expect(JSON.stringify(response.body)).not.toContain('second-value');
    const restored = await sdkClients(drUrl, emulator.caCertPem).secrets.getSecret('api-token');
    expect(restored.value).toBe('second-value');
  });

  it('dry run answers the plan and changes nothing; onConflict purge then restores over a soft-deleted name', async () => {
    const { keys } = sdkClients(prodUrl, emulator.caCertPem);
    await keys.createEcKey('signing-key', { curve: 'P-256' });
    await keys.createEcKey('signing-key', { curve: 'P-256' });
    await backUp(prodUrl, 'prod', 'key', 'signing-key');
    await (await keys.beginDeleteKey('signing-key', { intervalInMs: 50 })).pollUntilDone();

    const dry = await postRestore({ vault: 'prod', name: 'signing-key', onConflict: 'purge', dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body.objects[0]).toMatchObject({
      targetState: 'deleted',
      action: 'purge-and-restore',
      outcome: 'planned',
    });
    expect((await keys.getDeletedKey('signing-key')).name).toBe('signing-key');

    const refused = await postRestore({ vault: 'prod', name: 'signing-key' });
    expect(refused.status).toBe(409);

    const purged = await postRestore({ vault: 'prod', name: 'signing-key', onConflict: 'purge' });
    expect(purged.status).toBe(200);
    expect(purged.body.objects[0]).toMatchObject({ outcome: 'restored', versions: 2 });
    expect(await keyVersionIds(prodUrl, 'signing-key')).toHaveLength(2);
  });

  it('runs a whole-vault restore as a queue job: 202, the message on the real queue, progress in the state store', async () => {
    const { secrets } = sdkClients(prodUrl, emulator.caCertPem);
    const names = Array.from({ length: ASYNC_RESTORE_THRESHOLD + 1 }, (_, i) => `bulk-${i}`);
    await Promise.all(names.map((name) => secrets.setSecret(name, `value-${name}`)));
    await Promise.all(names.map((name) => backUp(prodUrl, 'prod', 'secret', name)));
    await Promise.all(
      names.map(async (name) => {
        await (await secrets.beginDeleteSecret(name, { intervalInMs: 50 })).pollUntilDone();
        await secrets.purgeDeletedSecret(name);
      }),
    );

    const accepted = await postRestore({ vault: 'prod', objectType: 'secret', onConflict: 'skip' });
    expect(accepted.status).toBe(202);

    const queue = azurite.queueService().getQueueClient(services.config.restoreQueue);
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 5 });
    expect(receivedMessageItems).toHaveLength(1);
    await restoreJobFunction.handler(
      decodeQueueMessage(receivedMessageItems[0]!.messageText),
      invocationContext('restoreJob'),
    );

    const status = await restoreStatusFunction.handler(
      httpRequest({ path: `/api/restore/${accepted.body.requestId}`, params: { id: accepted.body.requestId } }),
      invocationContext('restoreStatus'),
    );
    expect(status.jsonBody).toMatchObject({
      status: 'succeeded',
      progress: { total: names.length + 1, done: names.length + 1 },
    });
    expect((status.jsonBody as { counts: object }).counts).toMatchObject({ restored: names.length, skipped: 1 });
    expect((await secrets.getSecret('bulk-0')).value).toBe('value-bulk-0');
  });

  it('lists the catalog newest first, verifies every blob, and drills into a scratch vault leaving it clean', async () => {
    useServices(services);
    const listing = await backupsFunction.handler(
      httpRequest({ path: '/api/backups', query: { vault: 'prod' } }),
      invocationContext('backups'),
    );
    const items = (listing.jsonBody as { items: { name: string; takenAt: string }[] }).items;
    expect(items.slice(-3).map((i) => i.name)).toEqual(['signing-key', 'api-token', 'db-key']);
    expect(items.map((i) => i.takenAt)).toEqual([...items.map((i) => i.takenAt)].sort().reverse());

    expect(await verifyBackups(services, { vault: 'prod' })).toMatchObject({
      status: 'passed',
      checked: items.length,
      failed: [],
    });

    const scratch = emulator.vaults[1]!;
    const drill = await runRestoreDrill(services, {
      sources: [{ name: 'prod', url: prodUrl }],
      scratchVaultUrl: scratch.url,
      sample: 2,
      principal: 'integration',
      deadlineSeconds: 60,
      purgeSettleSeconds: 30,
      random: () => 0,
    });
    expect(drill).toMatchObject({ status: 'passed', sampled: 2 });
    expect(drill.objects.every((o) => o.cleanedUp && o.restoredVersions === o.expectedVersions)).toBe(true);
    const scratchKeys: string[] = [];
    for await (const k of sdkClients(scratch.url, emulator.caCertPem).keys.listPropertiesOfKeys())
      scratchKeys.push(k.name);
    expect(scratchKeys).toEqual([]);
  });
});
