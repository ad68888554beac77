import { createHash } from 'node:crypto';
import {
  BlobServiceClient,
  newPipeline,
  StorageSharedKeyCredential,
  type RequestPolicyFactory,
} from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobBackupStore } from '../../../src/adapters/blob-backup-store';
import type { BackupRecord, RunManifest } from '../../../src/core/domain';
import { emptyRunStats } from '../../../src/core/domain';
import { isKvGuardError } from '../../../src/core/errors';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME } from '../../../dev/azurite';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../../support/azurite';
import { ManualClock } from '../../support/in-memory';

let azurite: TestAzurite;

beforeAll(async () => {
  azurite = await startTestAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

/** A container client whose requests are recorded (method, URL, headers) before they leave. */
function recordingContainer(name: string) {
  const requests: { method: string; url: string; headers: Record<string, string> }[] = [];
  const recorder: RequestPolicyFactory = {
    create: (next) => ({
      sendRequest: async (request) => {
        const headers = Object.fromEntries(
          Object.entries(request.headers.rawHeaders()).map(([k, v]) => [k.toLowerCase(), v]),
        );
        requests.push({ method: request.method, url: request.url, headers });
        return next.sendRequest(request);
      },
    }),
  };
  const pipeline = newPipeline(new StorageSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY));
  pipeline.factories.unshift(recorder);
  const service = new BlobServiceClient(azurite.blobUrl, pipeline);
  return { container: service.getContainerClient(name), requests };
}

function backupOf(
  bytes: Uint8Array,
  takenAt: string,
  overrides: Partial<BackupRecord> = {},
): Omit<BackupRecord, 'blobName'> {
  return {
    vault: 'demo',
    type: 'key',
    name: 'DB-Key',
    fingerprint: createHash('sha256').update(takenAt).digest('hex'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.byteLength,
    versionCount: 3,
    takenAt: new Date(takenAt),
    runId: 'run-1',
    kvguardVersion: '0.1.0',
    ...overrides,
  };
}

function manifest(vault: string, startedAt: string, runId: string): RunManifest {
  return {
    runId,
    vault,
    vaultUrl: `https://${vault}.vault.azure.net/`,
    trigger: 'schedule',
    full: false,
    scope: 'summary',
    startedAt,
    finishedAt: startedAt,
    entries: [],
    stats: emptyRunStats(),
  };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe('BlobBackupStore against Azurite', () => {
  it('refuses a second write to the same blob name and leaves the first content unchanged', async () => {
    const store = new BlobBackupStore({
      container: azurite.blobService().getContainerClient(uniqueStorageName('backups')),
      immutability: 'container',
      retentionDays: 90,
    });
    const first = new Uint8Array([1, 2, 3, 4]);
    const stored = await store.putBackup(backupOf(first, '2025-01-01T00:00:00Z'), first);
    const second = new Uint8Array([9, 9, 9, 9]);
    const error = await store
      .putBackup(backupOf(second, '2025-01-01T00:00:00Z', { fingerprint: stored.fingerprint }), second)
      .catch((e: unknown) => e);
    expect(isKvGuardError(error, 'AlreadyExists')).toBe(true);
    expect(error).toMatchObject({ statusCode: 409, serviceCode: 'BlobAlreadyExists' });
    const read = await store.readBackup(stored.blobName);
    expect([...read.bytes]).toEqual([1, 2, 3, 4]);
  });

  it('round-trips the catalog entry through blob metadata and keeps the exact bytes', async () => {
    const store = new BlobBackupStore({
      container: azurite.blobService().getContainerClient(uniqueStorageName('backups')),
      immutability: 'container',
      retentionDays: 90,
    });
    const bytes = new Uint8Array(Buffer.from('opaque bytes \u0000\u00ff from key vault', 'latin1'));
    const record = backupOf(bytes, '2025-02-03T04:05:06.789Z', {
      name: 'Mixed-Case-Name',
      runId: 'run/with:odd chars',
    });
    const stored = await store.putBackup(record, bytes);
    expect(stored.blobName).toMatch(/^backups\/demo\/key\/mixed-case-name\/\d{13}-[0-9a-f]{12}\.kvbak$/);
    const read = await store.readBackup(stored.blobName);
    expect(Buffer.from(read.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(read.record).toEqual({ ...record, blobName: stored.blobName });
    await expect(store.readBackup('backups/demo/key/none/0000000000000-none.kvbak')).rejects.toMatchObject({
      code: 'NotFound',
    });
  });

  it('refuses bytes that do not match the record hash', async () => {
    const store = new BlobBackupStore({
      container: azurite.blobService().getContainerClient(uniqueStorageName('backups')),
      immutability: 'container',
      retentionDays: 90,
    });
    const record = backupOf(new Uint8Array([1]), '2025-01-01T00:00:00Z');
    await expect(store.putBackup(record, new Uint8Array([2]))).rejects.toMatchObject({ code: 'IntegrityError' });
  });

  it('lists newest first per object and answers "latest as of T" from one prefix listing', async () => {
    const store = new BlobBackupStore({
      container: azurite.blobService().getContainerClient(uniqueStorageName('backups')),
      immutability: 'container',
      retentionDays: 90,
    });
    const times = ['2025-01-01T00:00:00Z', '2025-01-03T00:00:00Z', '2025-01-02T00:00:00Z'];
    for (const at of times) {
      const bytes = new Uint8Array(Buffer.from(at));
      await store.putBackup(backupOf(bytes, at), bytes);
    }
    const other = new Uint8Array([7]);
    await store.putBackup(backupOf(other, '2025-01-05T00:00:00Z', { name: 'api-key' }), other);

    const latest = await store.latestBackup('demo', 'key', 'db-key');
    expect(latest?.takenAt.toISOString()).toBe('2025-01-03T00:00:00.000Z');
    const asOf = await store.latestBackup('demo', 'key', 'DB-KEY', new Date('2025-01-02T12:00:00Z'));
    expect(asOf?.takenAt.toISOString()).toBe('2025-01-02T00:00:00.000Z');
    expect(await store.latestBackup('demo', 'key', 'db-key', new Date('2024-12-31T00:00:00Z'))).toBeUndefined();

    const all = await collect(store.listBackups({ vault: 'demo' }));
    expect(all.map((r) => `${r.name}@${r.takenAt.toISOString().slice(8, 10)}`)).toEqual([
      'api-key@05',
      'DB-Key@03',
      'DB-Key@02',
      'DB-Key@01',
    ]);
    const byName = await collect(
      store.listBackups({ vault: 'demo', name: 'db-key', asOf: new Date('2025-01-02T00:00:00Z') }),
    );
    expect(byName.map((r) => r.takenAt.getUTCDate())).toEqual([2, 1]);
  });

  it('asks for a version-level immutability policy on every write when configured, and for none otherwise', async () => {
    const clock = new ManualClock('2025-06-01T00:00:00Z');
    const versioned = recordingContainer(uniqueStorageName('worm'));
    const store = new BlobBackupStore({
      container: versioned.container,
      immutability: 'version',
      retentionDays: 30,
      clock,
    });
    const bytes = new Uint8Array([5, 6]);
    await store.putBackup(backupOf(bytes, '2025-06-01T00:00:00Z'), bytes);
    await store.putManifest(manifest('demo', '2025-06-01T00:00:00Z', 'run-9'));
    const puts = versioned.requests.filter((r) => r.method === 'PUT' && !r.url.includes('restype=container'));
    expect(puts).toHaveLength(2);
    for (const put of puts) {
      expect(put.headers['if-none-match']).toBe('*');
      expect(put.headers['x-ms-immutability-policy-mode']).toBe('Unlocked');
      expect(new Date(put.headers['x-ms-immutability-policy-until-date']!).toISOString()).toBe(
        '2025-07-01T00:00:00.000Z',
      );
    }
    const containerCreate = versioned.requests.find((r) => r.method === 'PUT' && r.url.includes('restype=container'));
    expect(containerCreate?.headers['x-ms-blob-public-access']).toBeUndefined();

    const plain = recordingContainer(uniqueStorageName('plain'));
    await new BlobBackupStore({ container: plain.container, immutability: 'container', retentionDays: 30 }).putBackup(
      backupOf(bytes, '2025-06-01T00:00:00Z'),
      bytes,
    );
    const put = plain.requests.find((r) => r.method === 'PUT' && !r.url.includes('restype=container'))!;
    expect(put.headers['if-none-match']).toBe('*');
    expect(put.headers['x-ms-immutability-policy-mode']).toBeUndefined();
  });

  it('never creates the container when told not to (Azure: no containers/write), and writes into an existing one', async () => {
    const missing = recordingContainer(uniqueStorageName('absent'));
    const store = new BlobBackupStore({
      container: missing.container,
      immutability: 'container',
      retentionDays: 30,
      createContainer: false,
    });
    const bytes = new Uint8Array([7, 7]);
    await expect(store.putBackup(backupOf(bytes, '2025-06-01T00:00:00Z'), bytes)).rejects.toMatchObject({
      serviceCode: 'ContainerNotFound',
    });
    expect(missing.requests.some((r) => r.method === 'PUT' && r.url.includes('restype=container'))).toBe(false);
    expect(await missing.container.exists()).toBe(false);

    const existing = recordingContainer(uniqueStorageName('infra-made'));
    await existing.container.create();
    existing.requests.length = 0;
    await new BlobBackupStore({
      container: existing.container,
      immutability: 'container',
      retentionDays: 30,
      createContainer: false,
    }).putBackup(backupOf(bytes, '2025-06-01T00:00:00Z'), bytes);
    expect(existing.requests.map((r) => r.method)).toEqual(['PUT']);
    expect(existing.requests[0]!.headers['if-none-match']).toBe('*');
  });

  it('lists manifests newest first, per vault and merged across vaults, and appends audit entries create-only', async () => {
    const store = new BlobBackupStore({
      container: azurite.blobService().getContainerClient(uniqueStorageName('runs')),
      immutability: 'container',
      retentionDays: 90,
    });
    await store.putManifest(manifest('alpha', '2025-01-01T00:00:00Z', 'r1'));
    await store.putManifest(manifest('beta', '2025-01-02T00:00:00Z', 'r2'));
    await store.putManifest(manifest('alpha', '2025-01-03T00:00:00Z', 'r3'));
    await expect(store.putManifest(manifest('alpha', '2025-01-03T00:00:00Z', 'r3'))).rejects.toMatchObject({
      code: 'AlreadyExists',
    });
    expect((await collect(store.listManifests())).map((m) => m.runId)).toEqual(['r3', 'r2', 'r1']);
    expect((await collect(store.listManifests('alpha'))).map((m) => m.runId)).toEqual(['r3', 'r1']);

    const entry = {
      action: 'restore' as const,
      at: '2025-01-04T10:00:00Z',
      principal: 'ops@contoso',
      requestId: 'req-1',
      dryRun: true,
      source: { vault: 'alpha' },
      target: { vault: 'alpha' },
      objects: [],
      outcome: 'planned',
    };
    expect(await store.appendAudit(entry)).toMatch(/^audit\/2025\/01\/04\/\d{13}-req-1\.json$/);
    await expect(store.appendAudit(entry)).rejects.toMatchObject({ code: 'AlreadyExists' });
  });
});

describe('BlobBackupStore run history and audit log against Azurite', () => {
  it('lists manifest heads page by page from the listing metadata, equal to the manifests themselves', async () => {
    const container = recordingContainer(uniqueStorageName('heads'));
    const store = new BlobBackupStore({ container: container.container, immutability: 'container', retentionDays: 90 });
    const chunk: RunManifest = {
      ...manifest('alpha', '2025-01-02T00:00:00.000Z', '20250102T000000Z-abc123'),
      scope: 'chunk',
      chunk: { type: 'secret', sequence: 2, lastPage: true },
      error: { code: 'Forbidden', reason: 'the vault refused: ünïcode and "quotes"' },
      entries: [
        { type: 'secret', name: 's', versionCount: 1, durationMs: 3, outcome: { status: 'unchanged', blobName: 'b' } },
      ],
      stats: { ...emptyRunStats(), unchanged: 1, throttled: 4, maxConcurrency: 8, durationMs: 20 },
    };
    await store.putManifest(manifest('alpha', '2025-01-01T00:00:00.000Z', '20250101T000000Z-000001'));
    const chunkBlob = await store.putManifest(chunk);
    await store.putManifest(manifest('beta', '2025-01-03T00:00:00.000Z', '20250103T000000Z-000003'));
    expect(await store.listManifestVaults()).toEqual(['alpha', 'beta']);
    container.requests.length = 0;
    const first = await store.listManifestHeads('alpha', { pageSize: 1 });
    const { entries, ...rest } = chunk;
    expect(first.items).toEqual([{ ...rest, blobName: chunkBlob, entryCount: entries.length }]);
    expect(container.requests.map((r) => r.method)).toEqual(['GET']);
    const second = await store.listManifestHeads('alpha', { pageSize: 1, continuationToken: first.continuationToken });
    expect(second.items.map((h) => h.runId)).toEqual(['20250101T000000Z-000001']);
    expect(second.continuationToken).toBeUndefined();
    expect(await store.readManifest(chunkBlob)).toEqual(chunk);
  });

  it("lists audit entries newest first across days, and only one request's when asked", async () => {
    const store = new BlobBackupStore({
      container: azurite.blobService().getContainerClient(uniqueStorageName('audit')),
      immutability: 'container',
      retentionDays: 90,
    });
    const entry = (requestId: string, at: string) => ({
      action: 'restore' as const,
      at,
      principal: 'ops@contoso',
      requestId,
      dryRun: false,
      source: { vault: 'alpha' },
      target: { vault: 'alpha' },
      objects: [],
      outcome: 'completed',
    });
    await store.appendAudit(entry('old', '2024-12-31T23:00:00.000Z'));
    await store.appendAudit(entry('mid', '2025-01-01T08:00:00.000Z'));
    await store.appendAudit(entry('new', '2025-01-01T09:00:00.000Z'));
    await store.appendAudit(entry('newest', '2025-02-01T00:00:00.000Z'));
    expect((await collect(store.listAudit())).map((e) => e.requestId)).toEqual(['newest', 'new', 'mid', 'old']);
    expect((await collect(store.listAudit({ requestId: 'mid' }))).map((e) => e.at)).toEqual([
      '2025-01-01T08:00:00.000Z',
    ]);
  });
});

// BlobStateStore's behaviour is checked by test/contracts/state-store.contract.test.ts.
