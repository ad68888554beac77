/**
 * The BackupStore contract, run against the in-memory fake and the blob store on Azurite: a use-case test that
 * passes on the fake must mean the same against storage, so the fake may not accept what the real store refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobBackupStore } from '../../src/adapters/blob-backup-store';
import type { AuditEntry, BackupStore } from '../../src/core/ports';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { backupRecordOf, collect, runSummaryOf } from '../support/catalog-fixtures';
import { InMemoryBackupStore, RecordingLogger } from '../support/in-memory';

/** A store, raw access to its container, and what it reported. */
interface StoreUnderTest {
  store: BackupStore;
  /** Puts raw text under a blob name (damage, or a document from another kvguard). */
  plantRaw: (blobName: string, text: string) => Promise<void>;
  logger: RecordingLogger;
}

/**
 * The behaviour every {@link BackupStore} keeps.
 * @param name - which implementation
 * @param newStore - an empty store (a fresh container for a real one)
 */
function backupStoreContract(name: string, newStoreUnderTest: () => StoreUnderTest): void {
  const newStore = () => newStoreUnderTest().store;
  describe(`BackupStore contract: ${name}`, () => {
    it('stores the exact bytes and answers them with their catalog entry', async () => {
      const store = newStore();
      const bytes = new Uint8Array([7, 0, 255, 1]);
      const stored = await store.putBackup(backupRecordOf(bytes, '2025-01-01T00:00:00.000Z'), bytes);
      expect(stored.blobName).toMatch(/^backups\/demo\/key\/db-key\/\d{13}-[0-9a-f]{12}\.kvbak$/);
      const read = await store.readBackup(stored.blobName);
      expect(Buffer.from(read.bytes).equals(Buffer.from(bytes))).toBe(true);
      expect(read.record).toEqual(stored);
    });

    it('refuses bytes whose SHA-256 differs from the record and stores nothing', async () => {
      const store = newStore();
      const record = backupRecordOf(new Uint8Array([1, 2, 3]), '2025-01-01T00:00:00.000Z');
      await expect(store.putBackup(record, new Uint8Array([1, 2, 4]))).rejects.toMatchObject({
        code: 'IntegrityError',
      });
      expect(await collect(store.listBackups({ vault: 'demo' }))).toEqual([]);
    });

    it('refuses bytes whose size differs from the record even when the hash matches', async () => {
      const store = newStore();
      const bytes = new Uint8Array([1, 2, 3]);
      const record = { ...backupRecordOf(bytes, '2025-01-01T00:00:00.000Z'), size: 4 };
      await expect(store.putBackup(record, bytes)).rejects.toMatchObject({ code: 'IntegrityError' });
      expect(await store.latestBackup('demo', 'key', 'DB-Key')).toBeUndefined();
    });

    it('never overwrites: a second backup under the same name is AlreadyExists and the first stays', async () => {
      const store = newStore();
      const first = new Uint8Array([1]);
      const stored = await store.putBackup(backupRecordOf(first, '2025-01-01T00:00:00.000Z'), first);
      const second = new Uint8Array([2]);
      const clash = backupRecordOf(second, '2025-01-01T00:00:00.000Z', { fingerprint: stored.fingerprint });
      await expect(store.putBackup(clash, second)).rejects.toMatchObject({ code: 'AlreadyExists' });
      expect(Array.from((await store.readBackup(stored.blobName)).bytes)).toEqual([1]);
    });

    it('answers the newest backup of an object, the newest as of an instant, and ignores name case', async () => {
      const store = newStore();
      for (const [i, at] of [
        '2025-01-01T00:00:00.000Z',
        '2025-01-03T00:00:00.000Z',
        '2025-01-02T00:00:00.000Z',
      ].entries()) {
        const bytes = new Uint8Array([i]);
        await store.putBackup(backupRecordOf(bytes, at), bytes);
      }
      expect((await store.latestBackup('demo', 'key', 'db-key'))?.takenAt).toEqual(new Date('2025-01-03T00:00:00Z'));
      expect((await store.latestBackup('DEMO', 'key', 'DB-KEY', new Date('2025-01-02T12:00:00Z')))?.takenAt).toEqual(
        new Date('2025-01-02T00:00:00Z'),
      );
      expect(await store.latestBackup('demo', 'key', 'db-key', new Date('2024-12-31T00:00:00Z'))).toBeUndefined();
      expect(await store.latestBackup('demo', 'secret', 'db-key')).toBeUndefined();
    });

    it('lists the catalog grouped by object, newest first within each, filtered by type and name', async () => {
      const store = newStore();
      const put = async (name: string, type: 'key' | 'secret', at: string) => {
        const bytes = new Uint8Array(Buffer.from(`${type}/${name}@${at}`));
        await store.putBackup(backupRecordOf(bytes, at, { name, type }), bytes);
      };
      await put('b-key', 'key', '2025-01-01T00:00:00.000Z');
      await put('a-key', 'key', '2025-01-01T00:00:00.000Z');
      await put('a-key', 'key', '2025-01-02T00:00:00.000Z');
      await put('a-pass', 'secret', '2025-01-03T00:00:00.000Z');
      const all = await collect(store.listBackups({ vault: 'demo' }));
      expect(all.map((r) => `${r.type}/${r.name}@${r.takenAt.toISOString().slice(0, 10)}`)).toEqual([
        'key/a-key@2025-01-02',
        'key/a-key@2025-01-01',
        'key/b-key@2025-01-01',
        'secret/a-pass@2025-01-03',
      ]);
      expect((await collect(store.listBackups({ vault: 'demo', type: 'secret' }))).map((r) => r.name)).toEqual([
        'a-pass',
      ]);
      expect(await collect(store.listBackups({ vault: 'demo', name: 'A-KEY' }))).toHaveLength(2);
      expect(await collect(store.listBackups({ vault: 'other' }))).toEqual([]);
    });

    it('answers NotFound for a backup blob that does not exist', async () => {
      const store = newStore();
      await expect(store.readBackup('backups/demo/key/nope/0000000000000-none.kvbak')).rejects.toMatchObject({
        code: 'NotFound',
      });
    });

    it('stores run manifests create-only and lists them newest first, per vault and across vaults', async () => {
      const store = newStore();
      const older = await store.putManifest(runSummaryOf('demo', '2025-01-01T00:00:00.000Z', 'run-a'));
      const newer = await store.putManifest(runSummaryOf('demo', '2025-01-02T00:00:00.000Z', 'run-b'));
      const other = await store.putManifest(runSummaryOf('other', '2025-01-01T12:00:00.000Z', 'run-c'));
      await expect(store.putManifest(runSummaryOf('demo', '2025-01-01T00:00:00.000Z', 'run-a'))).rejects.toMatchObject({
        code: 'AlreadyExists',
      });
      const demo = await collect(store.listManifests('demo'));
      expect(demo.map((m) => [m.runId, m.blobName])).toEqual([
        ['run-b', newer],
        ['run-a', older],
      ]);
      expect(demo[0]).toMatchObject(runSummaryOf('demo', '2025-01-02T00:00:00.000Z', 'run-b'));
      expect((await collect(store.listManifests())).map((m) => m.blobName)).toEqual([newer, other, older]);
    });

    it('skips a run manifest that does not match its schema, reporting the blob and the problem', async () => {
      const { store, plantRaw, logger } = newStoreUnderTest();
      const good = await store.putManifest(runSummaryOf('demo', '2025-01-01T00:00:00.000Z', 'run-a'));
      const damaged = good.replace('run-a', 'run-z');
      await plantRaw(
        damaged,
        JSON.stringify({ ...runSummaryOf('demo', '2025-01-01T00:00:00.000Z', 'run-z'), stats: {} }),
      );
      const future = good.replace('run-a', 'run-f');
      await plantRaw(
        future,
        JSON.stringify({ ...runSummaryOf('demo', '2025-01-01T00:00:00.000Z', 'run-f'), formatVersion: 9 }),
      );
      expect((await collect(store.listManifests('demo'))).map((m) => m.blobName)).toEqual([good]);
      const warnings = logger.records.filter((r) => r.level === 'warn').map((r) => r.properties);
      expect(warnings).toEqual(
        expect.arrayContaining([
          { blobName: damaged, reason: expect.stringMatching(/does not match its schema \(stats\.stored: /) },
          { blobName: future, reason: expect.stringContaining('format version 9') },
        ]),
      );
    });

    it('reads a run manifest written before format versions existed as version 1', async () => {
      const { store, plantRaw } = newStoreUnderTest();
      const old = runSummaryOf('demo', '2025-01-01T00:00:00.000Z', 'run-old');
      await plantRaw('runs/demo/8264310399999-run-old-summary.json', JSON.stringify(old));
      expect(await collect(store.listManifests('demo'))).toEqual([
        { ...old, blobName: 'runs/demo/8264310399999-run-old-summary.json' },
      ]);
    });

    it('appends audit entries create-only under audit/<day>/', async () => {
      const store = newStore();
      const entry: AuditEntry = {
        action: 'restore',
        at: '2025-03-04T05:06:07.000Z',
        principal: 'alice',
        requestId: 'req-1',
        dryRun: true,
        source: { vault: 'demo' },
        target: { vault: 'demo' },
        objects: [{ type: 'key', name: 'db-key', outcome: 'planned' }],
        outcome: 'planned',
      };
      const blobName = await store.appendAudit(entry);
      expect(blobName).toMatch(/^audit\/2025\/03\/04\/\d{13}-req-1\.json$/);
      await expect(store.appendAudit(entry)).rejects.toMatchObject({ code: 'AlreadyExists' });
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

backupStoreContract('in-memory fake', () => {
  const logger = new RecordingLogger();
  const store = new InMemoryBackupStore(logger);
  return { store, logger, plantRaw: async (blobName, text) => store.plantRaw(blobName, text) };
});
backupStoreContract('blob store on Azurite', () => {
  const logger = new RecordingLogger();
  const container = azurite.blobService().getContainerClient(uniqueStorageName('contract'));
  return {
    store: new BlobBackupStore({ container, immutability: 'container', retentionDays: 30, logger }),
    logger,
    plantRaw: async (blobName, text) => {
      await container.createIfNotExists();
      await container.getBlockBlobClient(blobName).upload(text, Buffer.byteLength(text));
    },
  };
});
