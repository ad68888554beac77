import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobBackupStore } from '../../../src/adapters/blob-backup-store';
import { BlobPruneMarks } from '../../../src/adapters/blob-prune-marks';
import { describeObject } from '../../../src/core/browse/inventory';
import { isKvGuardError } from '../../../src/core/errors';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../../support/azurite';

let azurite: TestAzurite;

beforeAll(async () => {
  azurite = await startTestAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

function storeOn(containerName: string) {
  const container = azurite.blobService().getContainerClient(containerName);
  return { container, store: new BlobBackupStore({ container, immutability: 'container', retentionDays: 90 }) };
}

async function storedBackup(store: BlobBackupStore) {
  const bytes = new Uint8Array([7, 7, 7]);
  return store.putBackup(
    {
      vault: 'demo',
      type: 'secret',
      name: 'App-Db',
      fingerprint: 'f'.repeat(64),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.byteLength,
      versionCount: 1,
      takenAt: new Date('2026-12-01T00:00:00Z'),
      runId: 'run-1',
      kvguardVersion: 'test',
    },
    bytes,
  );
}

const inventory = describeObject('secret', 'App-Db', [
  {
    version: 'v1',
    enabled: true,
    createdOn: new Date('2026-11-30T00:00:00Z'),
    updatedOn: new Date('2026-11-30T00:00:00Z'),
    expiresOn: new Date('2027-01-01T00:00:00Z'),
    tags: { owner: 'team-a' },
    contentType: 'text/plain',
  },
]);

describe('BlobBackupStore inventories and prune marks against Azurite', () => {
  it('keeps an inventory beside its backup, create-only, and answers undefined for a backup without one', async () => {
    const { store, container } = storeOn(uniqueStorageName('inv'));
    const backup = await storedBackup(store);
    expect(await store.readInventory(backup.blobName)).toBeUndefined();
    await store.putInventory(backup.blobName, inventory);
    expect(await store.readInventory(backup.blobName)).toEqual(inventory);
    const again = await store.putInventory(backup.blobName, { ...inventory, tags: {} }).catch((e: unknown) => e);
    expect(isKvGuardError(again, 'AlreadyExists')).toBe(true);
    expect((await store.readInventory(backup.blobName))!.tags).toEqual({ owner: 'team-a' });
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: 'inventory/' })) names.push(blob.name);
    expect(names).toEqual([backup.blobName.replace(/^backups\//, 'inventory/').replace(/\.kvbak$/, '.json')]);
  });

  it('marks a backup and its inventory with the lifecycle tag, and a backup without an inventory too', async () => {
    const { store, container } = storeOn(uniqueStorageName('inv'));
    const marks = new BlobPruneMarks(container);
    const backup = await storedBackup(store);
    await marks.markPrunable(backup.blobName, new Date('2026-12-02T00:00:00Z'));
    expect((await container.getBlobClient(backup.blobName).getTags()).tags).toEqual({
      'kvguard-prunable': 'true',
      'kvguard-prunable-since': '2026-12-02T00:00:00.000Z',
    });
    await store.putInventory(backup.blobName, inventory);
    await marks.markPrunable(backup.blobName, new Date('2026-12-03T00:00:00Z'));
    const inventoryBlob = backup.blobName.replace(/^backups\//, 'inventory/').replace(/\.kvbak$/, '.json');
    expect((await container.getBlobClient(inventoryBlob).getTags()).tags).toMatchObject({ 'kvguard-prunable': 'true' });
    // Marking changes no content: the backup reads back byte for byte.
    expect([...(await store.readBackup(backup.blobName)).bytes]).toEqual([7, 7, 7]);
  });

  it('checks tagging by rewriting one backup tags unchanged, and cannot before the first backup', async () => {
    const { store, container } = storeOn(uniqueStorageName('inv'));
    const marks = new BlobPruneMarks(container);
    await container.create();
    expect(await marks.checkTagging()).toBeUndefined();
    const backup = await storedBackup(store);
    expect(await marks.checkTagging()).toEqual({ blobName: backup.blobName });
    expect((await container.getBlobClient(backup.blobName).getTags()).tags).toEqual({});
    await marks.markPrunable(backup.blobName, new Date('2026-12-02T00:00:00Z'));
    await marks.checkTagging();
    expect((await container.getBlobClient(backup.blobName).getTags()).tags).toEqual({
      'kvguard-prunable': 'true',
      'kvguard-prunable-since': '2026-12-02T00:00:00.000Z',
    });
  });
});
