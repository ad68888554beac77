import {
  OBJECT_TYPES,
  emptyRunStats,
  objectKey,
  type ManifestEntry,
  type ManifestHead,
  type ObjectType,
  type RunManifest,
  type RunStats,
  type VaultTarget,
} from '../domain';
import { KvGuardError } from '../errors';
import type { BackupStore } from '../ports';
import { runStartFromId } from './fingerprint';
import { CLOCK_SKEW_MARGIN_MS, isRunComplete, summariseRun, type RunSummary } from './runs';

/** How a run ended: every object stored or unchanged, some objects failed, a job failed, or not all chunks reported. */
export type RunOutcome = 'succeeded' | 'partial' | 'failed' | 'incomplete';

/** Every run outcome, for validation. */
export const RUN_OUTCOMES: readonly RunOutcome[] = ['succeeded', 'partial', 'failed', 'incomplete'];

/** One run in the history, from its manifests' heads (no manifest is read to list runs). */
export interface RunHeader {
  runId: string;
  vault: string;
  vaultUrl: string;
  trigger: RunManifest['trigger'];
  full: boolean;
  startedAt: string;
  finishedAt: string;
  outcome: RunOutcome;
  stats: RunStats;
  /** Job manifests (chunks or event snapshots) the run wrote. */
  jobs: number;
  errors: { code: string; reason: string }[];
}

/** A filter and page of the run history. */
export interface RunQuery {
  /** Only this vault's runs (a catalog vault name). */
  vault?: string;
  outcome?: RunOutcome;
  /** Only runs that started at or after this instant. */
  since?: Date;
  /** Only runs that started at or before this instant. */
  until?: Date;
  /** Runs per page (1 to {@link MAX_RUNS_PAGE_SIZE}); default {@link DEFAULT_RUNS_PAGE_SIZE}. */
  limit?: number;
  continuationToken?: string;
  /** The object types a vault's run covers (to judge completeness); default every type. */
  typesOf?: (vault: string) => readonly ObjectType[];
}

/** One page of the run history, newest first. */
export interface RunPage {
  items: RunHeader[];
  /** Present when more runs may follow (a page may be short when a filter skips many runs). */
  continuationToken?: string;
}

/** Runs per page unless asked otherwise. */
export const DEFAULT_RUNS_PAGE_SIZE = 20;
/** The largest page of runs. */
export const MAX_RUNS_PAGE_SIZE = 200;
/** Manifest heads one page looks at, at most: a filter that matches rarely answers a short page and a token. */
const MAX_HEADS_PER_PAGE = 5_000;

/** Where a vault's head listing stands: the token of the listing page, the index in it, and a running count. */
interface Position {
  t?: string;
  i: number;
  n: number;
}

/** What a continuation token carries: a position per vault, and the key of the last run passed. */
interface RunCursor {
  v: Record<string, Position>;
  k?: string;
  p: number;
}

/** Reads one vault's manifest heads newest first, page by page, from a resumable position. */
class HeadStream {
  private page: ManifestHead[] | undefined;
  private nextToken: string | undefined;
  private position: Position;

  constructor(
    private readonly store: BackupStore,
    readonly vault: string,
    private readonly pageSize: number,
    start: Position = { i: 0, n: 0 },
  ) {
    this.position = { ...start };
  }

  /** The next head, or undefined at the end. */
  async peek(): Promise<ManifestHead | undefined> {
    for (;;) {
      if (!this.page) {
        const page = await this.store.listManifestHeads(this.vault, {
          continuationToken: this.position.t,
          pageSize: this.pageSize,
        });
        this.page = page.items;
        this.nextToken = page.continuationToken;
      }
      if (this.position.i < this.page.length) return this.page[this.position.i];
      if (this.nextToken === undefined) return undefined;
      this.position = { t: this.nextToken, i: 0, n: this.position.n };
      this.page = undefined;
    }
  }

  /** Where the stream stands now. */
  here(): Position {
    return { ...this.position };
  }

  /** Moves past the current head. */
  advance(): void {
    this.position = { ...this.position, i: this.position.i + 1, n: this.position.n + 1 };
  }
}

/** A run being assembled from its heads. */
interface OpenRun {
  key: string;
  start: number;
  vault: string;
  heads: ManifestHead[];
  /** Where its first head was read, so a later page can read it again. */
  first: Position;
}

/**
 * One page of the run history, newest first by run start, across vaults or for one. It reads manifest heads (blob
 * names and metadata) newest first and assembles each run from the heads that carry its id; a run is complete once
 * the listing has passed its start (less the clock-skew margin), so a page costs about as many heads as its runs
 * wrote, whatever the length of the history. The token resumes every vault's listing at its page.
 * @param store - the backup store
 * @param query - filters, page size and token
 */
export async function listRuns(store: BackupStore, query: RunQuery = {}): Promise<RunPage> {
  const limit = query.limit ?? DEFAULT_RUNS_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RUNS_PAGE_SIZE) {
    throw new KvGuardError('ValidationError', `limit ${limit} must be an integer from 1 to ${MAX_RUNS_PAGE_SIZE}`, {
      field: 'limit',
    });
  }
  const cursor = query.continuationToken === undefined ? undefined : decodeCursor(query.continuationToken);
  // A run writes a few manifests: a listing page of several pages' worth is usually the whole cost. A filter on the
  // outcome may pass over many runs per match, so it reads the listing in the largest pages.
  const pageSize = cursor?.p ?? (query.outcome ? 1000 : Math.min(1000, Math.max(50, limit * 8)));
  const vaults = query.vault !== undefined ? [query.vault] : await store.listManifestVaults();
  const streams = vaults.map((vault) => new HeadStream(store, vault, pageSize, cursor?.v[vault]));
  const typesOf = query.typesOf ?? (() => OBJECT_TYPES);
  const open = new Map<string, OpenRun>();
  const items: RunHeader[] = [];
  let lastKey = cursor?.k;
  let exhausted = false;
  const passRuns = (horizon: number) => {
    for (const run of [...open.values()].sort((a, b) => compareKeys(b.key, a.key))) {
      if (items.length >= limit || run.start - CLOCK_SKEW_MARGIN_MS <= horizon) return;
      open.delete(`${run.vault}/${run.key}`);
      lastKey = run.key;
      const header = runHeader(run.heads, typesOf(run.vault));
      if (matches(header, run.start, query)) items.push(header);
    }
  };
  for (let scanned = 0; items.length < limit && scanned < MAX_HEADS_PER_PAGE; scanned++) {
    const heads = await Promise.all(streams.map((s) => s.peek()));
    let best = -1;
    heads.forEach((head, i) => {
      if (head && (best < 0 || head.startedAt > heads[best]!.startedAt)) best = i;
    });
    if (
      best < 0 ||
      (query.since && Date.parse(heads[best]!.startedAt) < query.since.getTime() - CLOCK_SKEW_MARGIN_MS)
    ) {
      exhausted = true;
      break;
    }
    const head = heads[best]!;
    passRuns(Date.parse(head.startedAt));
    if (items.length >= limit) break;
    const stream = streams[best]!;
    const position = stream.here();
    stream.advance();
    const start = runStartFromId(head.runId)?.getTime() ?? Date.parse(head.startedAt);
    const key = runKey(start, head.runId);
    if (lastKey !== undefined && compareKeys(key, lastKey) >= 0) continue; // passed on an earlier page
    const id = `${stream.vault}/${key}`;
    const run = open.get(id) ?? { key, start, vault: stream.vault, heads: [], first: position };
    run.heads.push(head);
    open.set(id, run);
  }
  if (exhausted) passRuns(Number.NEGATIVE_INFINITY);
  if (exhausted && open.size === 0) return { items };
  const positions: Record<string, Position> = {};
  for (const stream of streams) {
    const pending = [...open.values()].filter((r) => r.vault === stream.vault).map((r) => r.first);
    positions[stream.vault] = [stream.here(), ...pending].reduce((a, b) => (b.n < a.n ? b : a));
  }
  return { items, continuationToken: encodeCursor({ v: positions, k: lastKey, p: pageSize }) };
}

function matches(header: RunHeader, start: number, query: RunQuery): boolean {
  if (query.outcome !== undefined && header.outcome !== query.outcome) return false;
  if (query.since !== undefined && start < query.since.getTime()) return false;
  if (query.until !== undefined && start > query.until.getTime()) return false;
  return true;
}

/** Runs sort by start, then id: the key is fixed-width ISO time plus the id, so text order is time order. */
function runKey(start: number, runId: string): string {
  return `${new Date(start).toISOString()}|${runId}`;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A run's header from the heads of its manifests: a stored summary is the run; otherwise the job manifests' counts
 * add up (each chunk is written once, create-only, so none is counted twice).
 * @param heads - the heads (or whole manifests) of one run
 * @param types - the object types the run covers, to judge whether every chunk reported
 */
export function runHeader(
  heads: readonly (Omit<RunManifest, 'entries'> & Partial<Pick<ManifestHead, 'blobName'>>)[],
  types: readonly ObjectType[],
): RunHeader {
  const summary = heads.find((h) => h.scope === 'summary');
  const jobs = heads.filter((h) => h.scope !== 'summary');
  const basis = jobs.length > 0 ? jobs : heads;
  const first = basis[0]!;
  const startedAt = heads.map((h) => h.startedAt).sort()[0]!;
  const finishedAt = heads
    .map((h) => h.finishedAt)
    .sort()
    .at(-1)!;
  const stats = summary ? { ...summary.stats } : emptyRunStats();
  if (!summary) {
    for (const h of jobs) {
      for (const key of ['stored', 'unchanged', 'failed', 'bytes', 'throttled'] as const) stats[key] += h.stats[key];
      stats.maxConcurrency = Math.max(stats.maxConcurrency, h.stats.maxConcurrency);
    }
  }
  stats.durationMs = Date.parse(finishedAt) - Date.parse(startedAt);
  const errors = jobs.flatMap((h) => (h.error ? [h.error] : []));
  const complete =
    summary !== undefined || (first.scope === 'chunk' ? isRunComplete(jobs, types) : errors.length === 0);
  const outcome: RunOutcome =
    errors.length > 0 ? 'failed' : !complete ? 'incomplete' : stats.failed > 0 ? 'partial' : 'succeeded';
  return {
    runId: first.runId,
    vault: first.vault,
    vaultUrl: first.vaultUrl,
    trigger: first.trigger,
    full: first.full,
    startedAt,
    finishedAt,
    outcome,
    stats,
    jobs: jobs.length,
    errors,
  };
}

/** One object of a run, as `runs show` explains it. */
export interface RunObject {
  type: ObjectType;
  name: string;
  outcome: ManifestEntry['outcome']['status'];
  /** Why it failed, or which stored blob holds it. */
  reason?: string;
  code?: string;
  blobName?: string;
  bytes?: number;
  durationMs: number;
  versionCount: number;
  warning?: string;
}

/** One job (chunk, or event snapshot) of a run. */
export interface RunJob {
  blobName: string;
  scope: RunManifest['scope'];
  chunk?: RunManifest['chunk'];
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** 429s the job met, and the highest concurrency it reached. */
  throttled: number;
  maxConcurrency: number;
  error?: { code: string; reason: string };
  objects: RunObject[];
}

/** A run with every job and object. */
export interface RunDetails extends RunHeader {
  chunks: RunJob[];
}

/**
 * One run with its jobs and objects: the heads of its vault(s) are listed from the newest down to the run's start
 * (which its id carries), then only its own manifests are read. `NotFound` when no vault has it.
 * @param store - the backup store
 * @param runId - the run id
 * @param options - the vault, when known (else every vault with manifests is searched), and the types per vault
 */
export async function runDetails(
  store: BackupStore,
  runId: string,
  options: { vault?: string; typesOf?: (vault: string) => readonly ObjectType[] } = {},
): Promise<RunDetails> {
  const start = runStartFromId(runId);
  if (!start) {
    throw new KvGuardError('ValidationError', `run id ${JSON.stringify(runId)} is not one kvguard issued`, {
      field: 'id',
    });
  }
  const stop = start.getTime() - CLOCK_SKEW_MARGIN_MS;
  const vaults = options.vault !== undefined ? [options.vault] : await store.listManifestVaults();
  for (const vault of vaults) {
    const stream = new HeadStream(store, vault, 1000);
    const heads: ManifestHead[] = [];
    for (let head = await stream.peek(); head && Date.parse(head.startedAt) >= stop; head = await stream.peek()) {
      if (head.runId === runId) heads.push(head);
      stream.advance();
    }
    if (heads.length === 0) continue;
    const header = runHeader(heads, (options.typesOf ?? (() => OBJECT_TYPES))(vault));
    const jobs = heads.filter((h) => h.scope !== 'summary');
    const chunks = await Promise.all(jobs.map(async (h) => runJob(h, await store.readManifest(h.blobName))));
    chunks.sort(
      (a, b) =>
        a.startedAt.localeCompare(b.startedAt) ||
        (a.chunk?.type ?? '').localeCompare(b.chunk?.type ?? '') ||
        (a.chunk?.sequence ?? 0) - (b.chunk?.sequence ?? 0),
    );
    return { ...header, chunks };
  }
  throw new KvGuardError('NotFound', `no run with id ${JSON.stringify(runId)}`, { field: 'id' });
}

function runJob(head: ManifestHead, manifest: RunManifest): RunJob {
  return {
    blobName: head.blobName,
    scope: manifest.scope,
    ...(manifest.chunk ? { chunk: manifest.chunk } : {}),
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    durationMs: Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt),
    throttled: manifest.stats.throttled,
    maxConcurrency: manifest.stats.maxConcurrency,
    ...(manifest.error ? { error: manifest.error } : {}),
    objects: manifest.entries.map(runObject),
  };
}

function runObject(entry: ManifestEntry): RunObject {
  const { outcome } = entry;
  const base = {
    type: entry.type,
    name: entry.name,
    outcome: outcome.status,
    durationMs: entry.durationMs,
    versionCount: entry.versionCount,
    ...(entry.warning ? { warning: entry.warning } : {}),
  };
  switch (outcome.status) {
    case 'stored':
      return { ...base, blobName: outcome.blobName, bytes: outcome.size, reason: `stored ${outcome.size} bytes` };
    case 'unchanged':
      return { ...base, blobName: outcome.blobName, reason: 'versions match the newest backup; nothing stored' };
    case 'failed':
      return { ...base, code: outcome.code, reason: outcome.reason };
  }
}

function encodeCursor(cursor: RunCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(token: string): RunCursor {
  try {
    const cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as RunCursor;
    const positionsOk = Object.values(cursor.v ?? {}).every(
      (p) => Number.isInteger(p.i) && Number.isInteger(p.n) && (p.t === undefined || typeof p.t === 'string'),
    );
    if (
      typeof cursor.v === 'object' &&
      positionsOk &&
      Number.isInteger(cursor.p) &&
      (cursor.k === undefined || typeof cursor.k === 'string')
    )
      return cursor;
  } catch {
    // reported below
  }
  throw new KvGuardError(
    'ValidationError',
    `continuationToken ${JSON.stringify(token.slice(0, 40))} is not one this API issued`,
    {
      field: 'continuationToken',
    },
  );
}

/** A vault's newest complete, successful run, and the objects it listed (by {@link objectKey}). */
export interface SucceededRun {
  summary: RunSummary;
  objects: Set<string>;
}

/**
 * The newest complete, successful run of a vault that finished at or before `asOf` (default: the newest of all):
 * the run whose listing says which objects the vault held. Reads manifests newest first and stops at that run.
 * @param store - the catalog
 * @param target - the vault (its types decide when a run is complete)
 * @param asOf - only runs finished by then
 */
export async function newestSucceededRun(
  store: BackupStore,
  target: VaultTarget,
  asOf?: Date,
): Promise<SucceededRun | undefined> {
  const asOfIso = asOf?.toISOString();
  const runs = new Map<string, RunManifest[]>();
  for await (const manifest of store.listManifests(target.name)) {
    if (manifest.scope === 'objects' || (asOfIso !== undefined && manifest.finishedAt > asOfIso)) continue;
    const run = [...(runs.get(manifest.runId) ?? []), manifest];
    runs.set(manifest.runId, run);
    const summary = summariseRun(run, target);
    if (summary.succeeded) return { summary, objects: new Set(run.flatMap((m) => m.entries.map(objectKey))) };
  }
  return undefined;
}
