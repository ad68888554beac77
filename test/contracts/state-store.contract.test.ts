/**
 * The StateStore contract (watcher state, alert claims, restore jobs), run against the in-memory fake and the blob
 * state store on Azurite: optimistic concurrency must fail the same way on both, or a race the fake lets through
 * would lose an update in production.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStateStore } from '../../src/adapters/blob-backup-store';
import type { StateStore } from '../../src/core/ports';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { InMemoryStateStore } from '../support/in-memory';

/**
 * The behaviour every {@link StateStore} keeps.
 * @param name - which implementation
 * @param newStore - an empty store
 */
function stateStoreContract(name: string, newStore: () => StateStore): void {
  describe(`StateStore contract: ${name}`, () => {
    it('answers undefined for a document that does not exist', async () => {
      expect(await newStore().read('watch/demo')).toBeUndefined();
    });

    it('creates a document once with etag null; a second create is a Conflict and changes nothing', async () => {
      const store = newStore();
      await store.write('claims/a', { owner: 'first' }, { etag: null });
      await expect(store.write('claims/a', { owner: 'second' }, { etag: null })).rejects.toMatchObject({
        code: 'Conflict',
      });
      expect((await store.read('claims/a'))?.value).toEqual({ owner: 'first' });
    });

    it('writes with the etag it read, and refuses a stale etag with Conflict', async () => {
      const store = newStore();
      await store.write('watch/demo', { pass: 1 });
      const first = await store.read<{ pass: number }>('watch/demo');
      await store.write('watch/demo', { pass: 2 }, { etag: first!.etag });
      const second = await store.read<{ pass: number }>('watch/demo');
      expect(second).toEqual({ value: { pass: 2 }, etag: expect.any(String) });
      expect(second!.etag).not.toBe(first!.etag);
      await expect(store.write('watch/demo', { pass: 3 }, { etag: first!.etag })).rejects.toMatchObject({
        code: 'Conflict',
      });
      expect((await store.read('watch/demo'))?.value).toEqual({ pass: 2 });
    });

    it('refuses an etag-conditioned write to a document that does not exist', async () => {
      const store = newStore();
      await store.write('watch/x', { pass: 1 });
      const { etag } = (await store.read('watch/x'))!;
      await expect(store.write('watch/y', { pass: 1 }, { etag })).rejects.toMatchObject({ code: 'Conflict' });
      expect(await store.read('watch/y')).toBeUndefined();
    });

    it('overwrites without a condition and round-trips JSON (dates become strings)', async () => {
      const store = newStore();
      await store.write('restore/r1', { status: 'queued' });
      await store.write('restore/r1', { status: 'done', at: new Date('2025-01-01T00:00:00Z'), n: 1.5, list: [null] });
      expect((await store.read('restore/r1'))?.value).toEqual({
        status: 'done',
        at: '2025-01-01T00:00:00.000Z',
        n: 1.5,
        list: [null],
      });
    });

    it('refuses keys that are not safe blob names or that lie under the catalog folders', async () => {
      const store = newStore();
      for (const key of ['../escape', '/abs', 'a b', 'backups/demo/key/x', 'runs/demo/1', 'audit/2025/x']) {
        await expect(store.write(key, {})).rejects.toMatchObject({ code: 'ValidationError', field: 'key' });
        await expect(store.read(key)).rejects.toMatchObject({ code: 'ValidationError', field: 'key' });
      }
    });
  });
}

let azurite: TestAzurite;
beforeAll(async () => {
  azurite = await startTestAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

stateStoreContract('in-memory fake', () => new InMemoryStateStore());
stateStoreContract(
  'blob state store on Azurite',
  () => new BlobStateStore({ container: azurite.blobService().getContainerClient(uniqueStorageName('state')) }),
);
