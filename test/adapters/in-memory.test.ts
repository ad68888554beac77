import { describe, expect, it } from 'vitest';
import { isKvGuardError } from '../../src/core/errors';
import {
  InMemoryBackupStore,
  InMemoryQueue,
  InMemoryStateStore,
  InMemoryVault,
  InMemoryVaultFactory,
  ManualClock,
  kvError,
  seedObjects,
} from '../support/in-memory';

const record = (takenAt: string, fingerprint = 'abcdef0123456789') => ({
  vault: 'demo',
  type: 'key' as const,
  name: 'DB-Key',
  fingerprint,
  sha256: 'f'.repeat(64),
  size: 3,
  versionCount: 1,
  takenAt: new Date(takenAt),
  runId: 'run-1',
  kvguardVersion: '0.1.0',
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe('InMemoryVault', () => {
  it('pages a listing with continuation tokens and flags the managed key of a certificate', async () => {
    const vault = new InMemoryVault('https://demo.vault.azure.net');
    seedObjects(vault, 'key', 30);
    vault.seedCertificate('web-cert');
    const first = await vault.listObjects('key', { pageSize: 25 });
    expect(first.items).toHaveLength(25);
    const second = await vault.listObjects('key', { continuationToken: first.continuationToken });
    expect(second.continuationToken).toBeUndefined();
    const all = [...first.items, ...second.items];
    expect(all).toHaveLength(31);
    expect(all.find((o) => o.name === 'web-cert')?.managed).toBe(true);
  });

  it('produces different backup bytes each time and refuses to restore over a live or soft-deleted name', async () => {
    const vault = new InMemoryVault().seedKey('db-key', { versions: 3, tags: { kvguard: 'critical' } });
    const a = await vault.backup('key', 'db-key');
    const b = await vault.backup('key', 'db-key');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);

    await expect(vault.restore('key', a)).rejects.toMatchObject({ code: 'Conflict' });
    await vault.delete('key', 'db-key');
    expect(await vault.nameState('key', 'db-key')).toBe('deleted');
    await expect(vault.restore('key', a)).rejects.toMatchObject({ code: 'Conflict' });

    await vault.purge('key', 'db-key');
    expect(await vault.nameState('key', 'db-key')).toBe('free');
    expect(await vault.restore('key', a)).toEqual({ name: 'db-key' });
    expect(vault.inspect('key', 'db-key')).toMatchObject({
      versions: expect.any(Array),
      tags: { kvguard: 'critical' },
      deleted: false,
    });
    expect(vault.inspect('key', 'db-key')!.versions).toHaveLength(3);
  });

  it('recovers a soft-deleted certificate together with its managed key and secret', async () => {
    const clock = new ManualClock();
    const vault = new InMemoryVault(undefined, { clock }).seedCertificate('web');
    await vault.delete('certificate', 'web');
    expect(await vault.nameState('key', 'web')).toBe('deleted');
    const deleted = await vault.listDeleted('certificate');
    expect(deleted).toEqual([expect.objectContaining({ name: 'web', deletedOn: clock.now() })]);
    await vault.recover('certificate', 'web');
    expect(await vault.nameState('secret', 'web')).toBe('live');
  });

  it('throws injected failures once per use and counts injected 429s', async () => {
    const vault = new InMemoryVault().seedKey('k');
    vault.failNext('backup', () => kvError('Throttled', 'slow down', { statusCode: 429 }), 2);
    await expect(vault.backup('key', 'k')).rejects.toMatchObject({ code: 'Throttled' });
    await expect(vault.backup('key', 'k')).rejects.toMatchObject({ code: 'Throttled' });
    await expect(vault.backup('key', 'k')).resolves.toBeInstanceOf(Uint8Array);
    expect(vault.stats().throttled).toBe(2);
    vault.failWhen('listVersions', ([, name]) => name === 'k', kvError('Forbidden'));
    await expect(vault.listVersions('key', 'k')).rejects.toMatchObject({ code: 'Forbidden' });
  });
});

describe('InMemoryVaultFactory', () => {
  it('opens known vaults and fails calls to unknown or forbidden ones with typed errors', async () => {
    const factory = new InMemoryVaultFactory();
    const demo = factory.create('demo');
    expect(factory.open('https://DEMO.vault.azure.net')).toBe(demo);
    await expect(factory.open('https://nope.vault.azure.net/').listObjects('key')).rejects.toMatchObject({
      code: 'NotFound',
    });
    factory.forbid(demo.url);
    await expect(factory.open(demo.url).listObjects('key')).rejects.toMatchObject({ code: 'Forbidden' });
  });
});

describe('InMemoryBackupStore', () => {
  it('refuses a second write to the same blob name and keeps the first content', async () => {
    const store = new InMemoryBackupStore();
    const stored = await store.putBackup(record('2025-01-01T00:00:00Z'), new Uint8Array([1, 2, 3]));
    const error = await store
      .putBackup(record('2025-01-01T00:00:00Z'), new Uint8Array([9, 9, 9]))
      .catch((e: unknown) => e);
    expect(isKvGuardError(error, 'AlreadyExists')).toBe(true);
    expect([...(await store.readBackup(stored.blobName)).bytes]).toEqual([1, 2, 3]);
  });

  it('answers the newest backup, and the newest at or before an instant', async () => {
    const store = new InMemoryBackupStore();
    await store.putBackup(record('2025-01-01T00:00:00Z', 'aaa'), new Uint8Array([1]));
    await store.putBackup(record('2025-01-03T00:00:00Z', 'ccc'), new Uint8Array([3]));
    await store.putBackup(record('2025-01-02T00:00:00Z', 'bbb'), new Uint8Array([2]));
    expect((await store.latestBackup('demo', 'key', 'db-key'))?.fingerprint).toBe('ccc');
    expect((await store.latestBackup('demo', 'key', 'DB-KEY', new Date('2025-01-02T12:00:00Z')))?.fingerprint).toBe(
      'bbb',
    );
    expect(await store.latestBackup('demo', 'key', 'db-key', new Date('2024-12-31T00:00:00Z'))).toBeUndefined();
    const listed = await collect(store.listBackups({ vault: 'demo', name: 'db-key' }));
    expect(listed.map((r) => r.fingerprint)).toEqual(['ccc', 'bbb', 'aaa']);
  });

  it('lists manifests newest first across vaults', async () => {
    const store = new InMemoryBackupStore();
    const manifest = (vault: string, startedAt: string) => ({
      runId: `r-${vault}-${startedAt}`,
      vault,
      vaultUrl: `https://${vault}.vault.azure.net/`,
      trigger: 'schedule' as const,
      full: false,
      scope: 'summary' as const,
      startedAt,
      finishedAt: startedAt,
      entries: [],
      stats: { stored: 0, unchanged: 0, failed: 0, bytes: 0, durationMs: 0, throttled: 0, maxConcurrency: 0 },
    });
    await store.putManifest(manifest('a', '2025-01-01T00:00:00Z'));
    await store.putManifest(manifest('b', '2025-01-02T00:00:00Z'));
    await store.putManifest(manifest('a', '2025-01-03T00:00:00Z'));
    const all = await collect(store.listManifests());
    expect(all.map((m) => `${m.vault}@${m.startedAt.slice(8, 10)}`)).toEqual(['a@03', 'b@02', 'a@01']);
    expect((await collect(store.listManifests('b'))).map((m) => m.vault)).toEqual(['b']);
  });
});

describe('InMemoryStateStore', () => {
  it('applies etag conditions like blob storage', async () => {
    const state = new InMemoryStateStore();
    await state.write('w', { n: 1 }, { etag: null });
    await expect(state.write('w', { n: 2 }, { etag: null })).rejects.toMatchObject({ code: 'Conflict' });
    const read = await state.read<{ n: number }>('w');
    await state.write('w', { n: 2 }, { etag: read!.etag });
    await expect(state.write('w', { n: 3 }, { etag: read!.etag })).rejects.toMatchObject({ code: 'Conflict' });
    expect((await state.read<{ n: number }>('w'))!.value).toEqual({ n: 2 });
  });
});

describe('InMemoryQueue and ManualClock', () => {
  it('keeps JSON copies of sent jobs and drains them', async () => {
    const queue = new InMemoryQueue<{ at: Date | string }>();
    await queue.send({ at: new Date('2025-01-01T00:00:00Z') }, { delaySeconds: 5 });
    expect(queue.sent[0]!.delaySeconds).toBe(5);
    expect(queue.drain()).toEqual([{ at: '2025-01-01T00:00:00.000Z' }]);
    expect(queue.jobs).toEqual([]);
  });

  it('advances time when sleeping', async () => {
    const clock = new ManualClock('2025-01-01T00:00:00Z');
    await clock.sleep(1500);
    expect(clock.now().toISOString()).toBe('2025-01-01T00:00:01.500Z');
    expect(clock.slept).toEqual([1500]);
  });
});
