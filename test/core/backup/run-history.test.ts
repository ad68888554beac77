import { describe, expect, it } from 'vitest';
import { newRunId } from '../../../src/core/backup/fingerprint';
import { listRuns, runDetails, type RunHeader } from '../../../src/core/backup/run-history';
import { emptyRunStats, type ManifestEntry, type ObjectType, type RunManifest } from '../../../src/core/domain';
import { InMemoryBackupStore } from '../../support/in-memory';

const TYPES: ObjectType[] = ['key', 'secret', 'certificate'];
const MINUTE = 60_000;

function entry(type: ObjectType, name: string, failed = false): ManifestEntry {
  return {
    type,
    name,
    versionCount: 2,
    durationMs: 12,
    outcome: failed
      ? { status: 'failed', code: 'Forbidden', reason: `backup of ${name} was refused (403)` }
      : { status: 'stored', blobName: `backups/v/${type}/${name}/x.kvbak`, sha256: 'a'.repeat(64), size: 100 },
  };
}

/** Writes one run of three chunks (one per type) the way the queue jobs would, starting at `start`. */
async function putRun(
  store: InMemoryBackupStore,
  vault: string,
  start: Date,
  options: { failObject?: boolean; failJob?: boolean; skipLast?: boolean } = {},
): Promise<string> {
  const runId = newRunId(start, () => (start.getTime() % 1_000_000) / 1_000_000);
  for (const [i, type] of TYPES.entries()) {
    if (options.skipLast && type === 'certificate') continue;
    const startedAt = new Date(start.getTime() + i * 1000);
    const entries = [entry(type, `${type}-a`), entry(type, `${type}-b`, options.failObject && type === 'secret')];
    const stats = { ...emptyRunStats(), throttled: 1, maxConcurrency: 4 };
    for (const e of entries) {
      stats[e.outcome.status] += 1;
      if (e.outcome.status === 'stored') stats.bytes += e.outcome.size;
    }
    const manifest: RunManifest = {
      runId,
      vault,
      vaultUrl: `https://${vault}.vault.azure.net/`,
      trigger: 'schedule',
      full: false,
      scope: 'chunk',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date(startedAt.getTime() + 500).toISOString(),
      chunk: { type, sequence: 0, lastPage: true },
      entries: options.failJob && type === 'key' ? [] : entries,
      ...(options.failJob && type === 'key'
        ? { error: { code: 'Forbidden', reason: 'vault refused the listing' } }
        : {}),
      stats,
    };
    await store.putManifest(manifest);
  }
  return runId;
}

async function allPages(store: InMemoryBackupStore, query: Parameters<typeof listRuns>[1] = {}): Promise<RunHeader[]> {
  const runs: RunHeader[] = [];
  let token: string | undefined;
  do {
    const page = await listRuns(store, { ...query, continuationToken: token });
    runs.push(...page.items);
    token = page.continuationToken;
  } while (token);
  return runs;
}

describe('listRuns', () => {
  it('lists runs newest first with their outcome, counts and 429s, across vaults', async () => {
    const store = new InMemoryBackupStore();
    const t0 = Date.parse('2026-11-01T00:00:00Z');
    const ok = await putRun(store, 'alpha', new Date(t0));
    const partial = await putRun(store, 'beta', new Date(t0 + 10 * MINUTE), { failObject: true });
    const failed = await putRun(store, 'alpha', new Date(t0 + 20 * MINUTE), { failJob: true });
    const incomplete = await putRun(store, 'beta', new Date(t0 + 30 * MINUTE), { skipLast: true });
    const { items } = await listRuns(store);
    expect(items.map((r) => [r.runId, r.vault, r.outcome])).toEqual([
      [incomplete, 'beta', 'incomplete'],
      [failed, 'alpha', 'failed'],
      [partial, 'beta', 'partial'],
      [ok, 'alpha', 'succeeded'],
    ]);
    expect(items[3]).toMatchObject({
      jobs: 3,
      stats: { stored: 6, failed: 0, bytes: 600, throttled: 3, durationMs: 2500 },
    });
    expect(items[1]!.errors).toEqual([{ code: 'Forbidden', reason: 'vault refused the listing' }]);
    expect((await listRuns(store, { vault: 'beta' })).items.map((r) => r.runId)).toEqual([incomplete, partial]);
    expect((await listRuns(store, { outcome: 'partial' })).items.map((r) => r.runId)).toEqual([partial]);
    const window = { since: new Date(t0 + 5 * MINUTE), until: new Date(t0 + 25 * MINUTE) };
    expect((await listRuns(store, window)).items.map((r) => r.runId)).toEqual([failed, partial]);
  });

  it('pages 10,000 runs with a bounded cost per page, each run exactly once and in order', async () => {
    const store = new InMemoryBackupStore();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i++)
      ids.push(
        await putRun(store, i % 2 === 0 ? 'alpha' : 'beta', new Date(t0 + i * 10 * MINUTE), {
          failObject: i % 97 === 0,
        }),
      );
    const newestFirst = ids.reverse();

    store.cost.listCalls = 0;
    store.cost.blobsRead = 0;
    const first = await listRuns(store, { limit: 20 });
    expect(first.items.map((r) => r.runId)).toEqual(newestFirst.slice(0, 20));
    // One call to find the vaults, one listing page per vault; no manifest read.
    expect(store.cost).toEqual({ listCalls: 3, blobsRead: 0 });

    store.cost.listCalls = 0;
    const second = await listRuns(store, { limit: 20, continuationToken: first.continuationToken });
    expect(second.items.map((r) => r.runId)).toEqual(newestFirst.slice(20, 40));
    expect(store.cost).toEqual({ listCalls: 3, blobsRead: 0 });

    store.cost.listCalls = 0;
    const partial = await listRuns(store, { limit: 5, outcome: 'partial', vault: 'alpha' });
    // One run in 194 of alpha's matches: five of them lie within about 2,900 heads, three listing pages of 1,000.
    expect(partial.items).toHaveLength(5);
    expect(store.cost.listCalls).toBeLessThanOrEqual(4);
    expect(store.cost.blobsRead).toBe(0);
  });

  it('walks the whole history page by page, each run exactly once and in order, whatever the page size', async () => {
    const store = new InMemoryBackupStore();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const ids: string[] = [];
    // Runs come in pairs that overlap: beta's run starts before alpha's has written its last chunk.
    for (let i = 0; i < 150; i++) {
      ids.push(await putRun(store, 'alpha', new Date(t0 + i * 10 * MINUTE)));
      ids.push(await putRun(store, 'beta', new Date(t0 + i * 10 * MINUTE + 1500)));
    }
    for (const limit of [1, 7, 200])
      expect((await allPages(store, { limit })).map((r) => r.runId)).toEqual([...ids].reverse());
  });
});

describe('runDetails', () => {
  it('explains every object of a run: stored, unchanged or failed with the reason, bytes, duration and 429s', async () => {
    const store = new InMemoryBackupStore();
    const t0 = Date.parse('2026-11-01T00:00:00Z');
    const runId = await putRun(store, 'alpha', new Date(t0), { failObject: true });
    await putRun(store, 'alpha', new Date(t0 + 60 * MINUTE));
    store.cost.blobsRead = 0;
    const run = await runDetails(store, runId);
    expect(store.cost.blobsRead).toBe(3);
    expect(run).toMatchObject({ runId, vault: 'alpha', outcome: 'partial', stats: { stored: 5, failed: 1 } });
    expect(run.chunks.map((c) => [c.chunk?.type, c.throttled, c.durationMs])).toEqual([
      ['key', 1, 500],
      ['secret', 1, 500],
      ['certificate', 1, 500],
    ]);
    expect(run.chunks[1]!.objects).toEqual([
      expect.objectContaining({ name: 'secret-a', outcome: 'stored', bytes: 100, durationMs: 12 }),
      expect.objectContaining({
        name: 'secret-b',
        outcome: 'failed',
        code: 'Forbidden',
        reason: 'backup of secret-b was refused (403)',
      }),
    ]);
    await expect(runDetails(store, '20200101T000000Z-000000')).rejects.toMatchObject({ code: 'NotFound' });
    await expect(runDetails(store, 'nonsense')).rejects.toMatchObject({ code: 'ValidationError', field: 'id' });
  });
});
