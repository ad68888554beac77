/**
 * The StateStore contract (watcher state, alert claims, restore jobs), run against the in-memory fake and the blob
 * state store on Azurite: optimistic concurrency must fail the same way on both, or a race the fake lets through
 * would lose an update in production.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BlobStateStore } from '../../src/adapters/blob-backup-store';
import type { StateStore } from '../../src/core/ports';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { anyDocument } from '../support/catalog-fixtures';
import { InMemoryStateStore } from '../support/in-memory';

/** A store and raw access to what it keeps. */
interface StoreUnderTest {
  store: StateStore;
  /** Puts raw text where the store keeps `key` (an older kvguard's document, or damage). */
  plantRaw: (key: string, text: string) => Promise<void>;
}

const pass = z.object({ pass: z.number().int() });
const owner = z.object({ owner: z.string() });

/**
 * The behaviour every {@link StateStore} keeps.
 * @param name - which implementation
 * @param newStore - an empty store
 */
function stateStoreContract(name: string, newStoreUnderTest: () => StoreUnderTest): void {
  const newStore = () => newStoreUnderTest().store;
  describe(`StateStore contract: ${name}`, () => {
    it('answers undefined for a document that does not exist', async () => {
      expect(await newStore().read('watch/demo', anyDocument)).toBeUndefined();
    });

    it('creates a document once with etag null; a second create is a Conflict and changes nothing', async () => {
      const store = newStore();
      await store.write('claims/a', { owner: 'first' }, { etag: null });
      await expect(store.write('claims/a', { owner: 'second' }, { etag: null })).rejects.toMatchObject({
        code: 'Conflict',
      });
      expect((await store.read('claims/a', owner))?.value).toEqual({ owner: 'first' });
    });

    it('writes with the etag it read, and refuses a stale etag with Conflict', async () => {
      const store = newStore();
      await store.write('watch/demo', { pass: 1 });
      const first = await store.read('watch/demo', pass);
      await store.write('watch/demo', { pass: 2 }, { etag: first!.etag });
      const second = await store.read('watch/demo', pass);
      expect(second).toEqual({ value: { pass: 2 }, etag: expect.any(String) });
      expect(second!.etag).not.toBe(first!.etag);
      await expect(store.write('watch/demo', { pass: 3 }, { etag: first!.etag })).rejects.toMatchObject({
        code: 'Conflict',
      });
      expect((await store.read('watch/demo', pass))?.value).toEqual({ pass: 2 });
    });

    it('refuses an etag-conditioned write to a document that does not exist', async () => {
      const store = newStore();
      await store.write('watch/x', { pass: 1 });
      const { etag } = (await store.read('watch/x', pass))!;
      await expect(store.write('watch/y', { pass: 1 }, { etag })).rejects.toMatchObject({ code: 'Conflict' });
      expect(await store.read('watch/y', pass)).toBeUndefined();
    });

    it('overwrites without a condition and round-trips JSON (dates become strings)', async () => {
      const store = newStore();
      await store.write('restore/r1', { status: 'queued' });
      await store.write('restore/r1', { status: 'done', at: new Date('2025-01-01T00:00:00Z'), n: 1.5, list: [null] });
      expect((await store.read('restore/r1', anyDocument))?.value).toEqual({
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
        await expect(store.read(key, anyDocument)).rejects.toMatchObject({ code: 'ValidationError', field: 'key' });
      }
    });

    it('reads a document written before format versions existed as version 1', async () => {
      const { store, plantRaw } = newStoreUnderTest();
      await plantRaw('watch/old', '{"pass":7}');
      expect((await store.read('watch/old', pass))?.value).toEqual({ pass: 7 });
    });

    it('refuses a document that does not match the schema, naming the document and the field', async () => {
      const { store, plantRaw } = newStoreUnderTest();
      await plantRaw('watch/bad', '{"formatVersion":1,"pass":"seven"}');
      const error = await store.read('watch/bad', pass).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'IntegrityError' });
      expect((error as Error).message).toMatch(/"watch\/bad\.json" does not match its schema \(pass: .+\)/);
    });

    it('refuses a document from a newer format version and text that is not JSON', async () => {
      const { store, plantRaw } = newStoreUnderTest();
      await plantRaw('watch/future', '{"formatVersion":2,"pass":1}');
      await expect(store.read('watch/future', pass)).rejects.toMatchObject({
        code: 'IntegrityError',
        message: expect.stringContaining('format version 2, written by a newer kvguard'),
      });
      await plantRaw('watch/garbled', '{"pass":');
      await expect(store.read('watch/garbled', pass)).rejects.toMatchObject({
        code: 'IntegrityError',
        message: expect.stringContaining('"watch/garbled.json" is not JSON'),
      });
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

stateStoreContract('in-memory fake', () => {
  const store = new InMemoryStateStore();
  return { store, plantRaw: async (key, text) => store.plantRaw(key, text) };
});
stateStoreContract('blob state store on Azurite', () => {
  const container = azurite.blobService().getContainerClient(uniqueStorageName('state'));
  return {
    store: new BlobStateStore({ container }),
    plantRaw: async (key, text) => {
      await container.createIfNotExists();
      await container.getBlockBlobClient(`${key}.json`).upload(text, Buffer.byteLength(text));
    },
  };
});
