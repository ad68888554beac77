// kvguard benchmark: how close a backup run comes to Key Vault's throttle floor, beside the two obvious ways of
// doing it, and what kvguard costs in calls, memory, event latency and cold start. Every party runs in its own
// process — the Key Vault emulator, Azurite, the kvguard CLI (or dev host), the baselines — so each one's CPU and
// memory are its own, on a vault with injected latency and Key Vault's token-bucket throttle. Prints ONE JSON
// document and writes the same to bench/results/latest.json.
//
// Parameters (environment, defaults in brackets):
//   BENCH_N [1000]               objects in the throughput vault (half EC keys, half secrets)
//   BENCH_MEMORY_N [10000]       objects of the large memory run (the small one has a tenth)
//   BENCH_REPEATS [3]            interleaved repeats of kvguard and Promise.all per throttle setting
//   BENCH_SEQUENTIAL_REPEATS [1] repeats of the sequential loop per rate (it never reaches the throttle, so its time
//                                does not depend on Retry-After; at 30 ms latency one run takes about 40 s per 1,000)
//   BENCH_RATES [200,400]        vault throttles in operations per second
//   BENCH_LATENCY_MS [30]        latency the emulator adds to every operation
//   BENCH_EVENT_SAMPLES [20]     new versions timed from creation to stored snapshot
//   BENCH_BURST_VERSIONS [500]   new versions of one secret in a burst (counts the snapshots it causes)
//   BENCH_ONLY [all]             comma-separated scenarios to run: full,incremental,random,memory,event,coldstart
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { emulatorSdkClients, type EmulatorSdkClients } from '../dev/emulator/clients';
import type { EmulatorOptions, RunningEmulator, TrafficCounts } from '../dev/emulator';
import { mapWithConcurrency } from '../src/core/concurrency';
import type { EmulatorRequest } from './emulator-process';

const ROOT = join(__dirname, '..');
const CLI_V8_FLAGS = JSON.parse(readFileSync(join(ROOT, 'bin', 'v8-flags.json'), 'utf8')) as string[];
const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got ${process.env[name]}`);
  return value;
};
const P = {
  n: env('BENCH_N', 1000),
  memoryN: env('BENCH_MEMORY_N', 10_000),
  repeats: env('BENCH_REPEATS', 3),
  sequentialRepeats: env('BENCH_SEQUENTIAL_REPEATS', 1),
  rates: (process.env.BENCH_RATES ?? '200,400').split(',').map(Number),
  latencyMs: env('BENCH_LATENCY_MS', 30),
  eventSamples: env('BENCH_EVENT_SAMPLES', 20),
  burstVersions: env('BENCH_BURST_VERSIONS', 500),
  pageSize: 25,
  changedShare: 0.01,
  randomThrottleRate: 0.1,
};
const UNTHROTTLED = { operations: 1_000_000, windowSeconds: 1, retryAfter: 'always' as const, startEmpty: false };

/** The emulator in its own process, driven over IPC. */
class EmulatorProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private constructor(
    private readonly child: ChildProcess,
    readonly vaults: { name: string; url: string }[],
    readonly caCertPath: string,
    readonly caCertPem: string,
  ) {
    child.on('message', (m: { id?: number; value?: unknown; error?: string }) => {
      const waiter = m.id === undefined ? undefined : this.pending.get(m.id);
      if (!waiter) return;
      this.pending.delete(m.id!);
      if (m.error) waiter.reject(new Error(m.error));
      else waiter.resolve(m.value);
    });
  }

  static async start(options: EmulatorOptions): Promise<EmulatorProcess> {
    const child = fork(join(__dirname, 'emulator-process.ts'), [JSON.stringify(options)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const ready = await new Promise<{ vaults: { name: string; url: string }[]; caCertPath: string; caCertPem: string }>(
      (resolve, reject) => {
        child.once('message', (m: { ready?: never }) => (m.ready ? resolve(m.ready) : reject(new Error('bad hello'))));
        child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
      },
    );
    return new EmulatorProcess(child, ready.vaults, ready.caCertPath, ready.caCertPem);
  }

  /** Process id of the emulator. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  url(vault: string): string {
    return this.vaults.find((v) => v.name === vault)!.url;
  }

  private request<T>(
    request: EmulatorRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never,
  ): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...request, id });
    });
  }

  configure(vault: string, change: Parameters<RunningEmulator['configure']>[0]): Promise<void> {
    return this.request({ op: 'configure', vault, change });
  }

  traffic(vault: string): Promise<TrafficCounts> {
    return this.request({ op: 'traffic', vault });
  }

  subscribe(vault: string, endpoint: string): Promise<void> {
    return this.request({ op: 'subscribe', vault, endpoint });
  }

  async stop(): Promise<void> {
    await this.request({ op: 'stop' }).catch(() => undefined);
    this.child.kill();
  }
}

interface ProcessResult {
  stdout: string;
  exitCode: number;
  wallMs: number;
  peakRssMb?: number;
  cpuMs?: number;
}

/** Runs a node process to its end; with `measureUsage`, reads its own peak RSS and CPU time (see peak-rss.cjs). */
async function runNode(args: string[], extraEnv: Record<string, string>, measureUsage = false): Promise<ProcessResult> {
  const rssFile = join(tmpdir(), `kvguard-bench-rss-${process.pid}-${Math.random().toString(16).slice(2)}`);
  const execArgs = measureUsage ? ['--require', join(__dirname, 'peak-rss.cjs')] : [];
  const started = performance.now();
  const child = spawn(process.execPath, [...execArgs, ...args], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...extraEnv, ...(measureUsage ? { BENCH_PEAK_RSS_FILE: rssFile } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  const wallMs = performance.now() - started;
  if (exitCode !== 0 && !stdout.trim()) throw new Error(`${args.join(' ')} failed (${exitCode}): ${stderr.trim()}`);
  if (!measureUsage) return { stdout, exitCode, wallMs };
  const usage = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRssKiB: number; cpuMs: number };
  rmSync(rssFile, { force: true });
  return { stdout, exitCode, wallMs, peakRssMb: round(usage.maxRssKiB / 1024, 1), cpuMs: usage.cpuMs };
}

/** The bench's own environment without settings that would change what the children do. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('KVGUARD_') && k !== 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    ),
  );
}

function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function pagesFor(keys: number, secrets: number): number {
  return Math.max(1, Math.ceil(keys / P.pageSize)) + Math.max(1, Math.ceil(secrets / P.pageSize));
}

/**
 * Creates `keys` EC keys and `secrets` secrets. Each client's first request goes alone: the SDK's challenge policy
 * loses the bodies of concurrent first requests.
 */
async function seed(clients: EmulatorSdkClients, keys: number, secrets: number): Promise<void> {
  const createKey = (i: number) => clients.keys.createEcKey(`key-${i}`, { curve: 'P-256' });
  const setSecret = (i: number) => clients.secrets.setSecret(`secret-${i}`, `value-${i}`);
  await createKey(0);
  await setSecret(0);
  await mapWithConcurrency(
    Array.from({ length: keys - 1 }, (_, i) => i + 1),
    32,
    createKey,
  );
  await mapWithConcurrency(
    Array.from({ length: secrets - 1 }, (_, i) => i + 1),
    32,
    setSecret,
  );
}

interface Stack {
  emulator: EmulatorProcess;
  /** The current Azurite (replaced by {@link renewStorage}). */
  azurite: RunningAzurite;
}

/**
 * Replaces the stack's Azurite with an empty one. Azurite keeps blob metadata in LokiJS and scans it on every
 * request, so each operation slows as blobs pile up (on one shared Azurite the second repeat of every party took
 * two to three times as long as the first; Azure Storage does not degrade so): every measured run starts on an
 * empty store, so the figures are kvguard's, not Azurite's.
 */
async function renewStorage(stack: Stack): Promise<void> {
  await stack.azurite.stop();
  stack.azurite = await startAzurite();
}

/** Settings of a kvguard process for one vault of the stack; the budget share is 100 % as the issue asks. */
function kvguardEnv(stack: Stack, vault: string, ratePerSecond: number, container: string): Record<string, string> {
  return {
    KVGUARD_VAULTS: JSON.stringify([{ url: stack.emulator.url(vault), name: vault, types: ['key', 'secret'] }]),
    KVGUARD_STORAGE: stack.azurite.connectionString,
    KVGUARD_CONTAINER: container,
    KVGUARD_CREDENTIAL: 'emulator',
    KVGUARD_KEYVAULT_CA_CERT: stack.emulator.caCertPath,
    KVGUARD_VAULT_RATE_LIMIT: String(Math.round(ratePerSecond * 10)),
    KVGUARD_BUDGET_SHARE: '100',
  };
}

interface RunOutcome {
  wallMs: number;
  stored: number;
  failures: number;
  throttled: number;
  calls: number;
  peakRssMb?: number;
  /** CPU time each process spent on the run: kvguard's own, the emulator's and Azurite's. */
  cpuMs?: { kvguard: number; emulator: number; azurite: number };
}

/** CPU time (user + system) a live process has used so far, from /proc (Linux; clock ticks of 10 ms). */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

function diff(before: TrafficCounts, after: TrafficCounts): { calls: number; throttled: number } {
  const passed = after.passed - before.passed;
  const throttled = after.throttled - before.throttled + (after.random429 - before.random429);
  return { calls: passed + throttled, throttled };
}

/** One kvguard CLI run (`kvguard backup --json`, compiled), timed by the run summary it prints. */
async function kvguardRun(
  stack: Stack,
  vault: string,
  ratePerSecond: number,
  options: { full: boolean; container: string },
): Promise<RunOutcome> {
  const before = await stack.emulator.traffic(vault);
  const cpuBefore = { emulator: processCpuMs(stack.emulator.pid), azurite: processCpuMs(stack.azurite.pid) };
  buildOnce();
  const args = [
    // The compiled CLI, as the package runs it (`bin/kvguard.js` in a checkout would load tsx, ~28 MiB and its CPU),
    // with the V8 flags the entry point relaunches itself with on Node 22.15+ (on Node 20 it cannot).
    ...CLI_V8_FLAGS,
    '-e',
    'require(process.argv[1]).runCli(process.argv)',
    join(ROOT, 'dist', 'src', 'cli', 'main.js'),
    'backup',
    '--vault',
    vault,
    '--json',
    ...(options.full ? ['--full'] : []),
  ];
  const result = await runNode(args, kvguardEnv(stack, vault, ratePerSecond, options.container), true);
  const after = await stack.emulator.traffic(vault);
  const cpuMs = {
    kvguard: result.cpuMs!,
    emulator: processCpuMs(stack.emulator.pid) - cpuBefore.emulator,
    azurite: processCpuMs(stack.azurite.pid) - cpuBefore.azurite,
  };
  const report = JSON.parse(result.stdout) as {
    runs: { stats: { stored: number; unchanged: number; failed: number; durationMs: number }; error?: unknown }[];
  };
  const run = report.runs[0]!;
  if (run.error) throw new Error(`kvguard backup failed: ${JSON.stringify(run.error)}`);
  return {
    wallMs: run.stats.durationMs,
    stored: run.stats.stored,
    failures: run.stats.failed,
    ...diff(before, after),
    peakRssMb: result.peakRssMb,
    cpuMs,
  };
}

async function baselineRun(stack: Stack, vault: string, mode: 'sequential' | 'naive'): Promise<RunOutcome> {
  const before = await stack.emulator.traffic(vault);
  const task = {
    mode,
    vaultUrl: stack.emulator.url(vault),
    caCertPem: stack.emulator.caCertPem,
    storage: stack.azurite.connectionString,
    container: `bench-${mode}`,
  };
  const result = await runNode(['--import', 'tsx', join(__dirname, 'baseline-process.ts'), JSON.stringify(task)], {});
  const after = await stack.emulator.traffic(vault);
  const parsed = JSON.parse(result.stdout) as { wallMs: number; stored: number; failures: number };
  return { wallMs: parsed.wallMs, stored: parsed.stored, failures: parsed.failures, ...diff(before, after) };
}

type Impl = 'kvguard' | 'naive' | 'sequential';

/** Full backups at each throttle setting: kvguard, Promise.all and the sequential loop, interleaved. */
async function fullBackupMatrix(stack: Stack, vault: string, objects: number, pages: number) {
  const settings = P.rates.flatMap((rate) =>
    (['always', 'never'] as const).map((retryAfter) => ({ rate, retryAfter })),
  );
  const samples = new Map<string, RunOutcome[]>();
  const key = (rate: number, retryAfter: string, impl: Impl) => `${rate}/${retryAfter}/${impl}`;
  for (let repeat = 0; repeat < P.repeats; repeat++) {
    for (const [index, { rate, retryAfter }] of settings.entries()) {
      const impls: Impl[] = ['kvguard', 'naive'];
      // The sequential loop stays far below every throttle (one call per round trip), so Retry-After never matters
      // to it: it runs once per rate (with 'never') and its result stands for both.
      if (repeat < P.sequentialRepeats && retryAfter === 'never') impls.push('sequential');
      // Interleaved: the order rotates so that no party always runs on a warmer or cooler machine.
      const order = impls.map((_, i) => impls[(i + repeat + index) % impls.length]!);
      for (const impl of order) {
        await renewStorage(stack);
        await stack.emulator.configure(vault, {
          throttle: { operations: rate, windowSeconds: 1, retryAfter, startEmpty: true },
          faults: { seed: repeat + 1, latencyMs: [P.latencyMs, P.latencyMs] },
        });
        const outcome =
          impl === 'kvguard'
            ? await kvguardRun(stack, vault, rate, { full: true, container: 'bench-full' })
            : await baselineRun(stack, vault, impl);
        const id = key(rate, retryAfter, impl);
        samples.set(id, [...(samples.get(id) ?? []), outcome]);
        process.stderr.write(`bench: ${id} ${Math.round(outcome.wallMs)} ms, ${outcome.failures} failed\n`);
      }
    }
  }
  return settings.map(({ rate, retryAfter }) => {
    const floorMs = ((objects + pages) / rate) * 1000;
    const summarise = (impl: Impl) => {
      const runs = samples.get(key(rate, retryAfter, impl)) ?? samples.get(key(rate, 'never', impl)) ?? [];
      const walls = runs.map((r) => r.wallMs);
      return {
        runs: runs.length,
        wallMsMin: round(Math.min(...walls)),
        wallMsMedian: round(median(walls)),
        failures: Math.max(...runs.map((r) => r.failures)),
        throttled: Math.max(...runs.map((r) => r.throttled)),
        calls: round(median(runs.map((r) => r.calls))),
      };
    };
    const kvguard = summarise('kvguard');
    const naive = summarise('naive');
    const sequential = summarise('sequential');
    // The CPU the run cost the three processes (median of each), and the wall time that much CPU takes on this
    // machine's cores at best: when it exceeds the floor, the machine, not the vault's pace, sets the wall time.
    const kvguardRuns = samples.get(key(rate, retryAfter, 'kvguard')) ?? [];
    const cpuOf = (process: 'kvguard' | 'emulator' | 'azurite') =>
      round(median(kvguardRuns.map((r) => r.cpuMs?.[process] ?? 0)));
    const cpuMs = { kvguard: cpuOf('kvguard'), emulator: cpuOf('emulator'), azurite: cpuOf('azurite') };
    const cpuBoundMs = round((cpuMs.kvguard + cpuMs.emulator + cpuMs.azurite) / cpus().length);
    return {
      rateOpsPerSecond: rate,
      retryAfter,
      floorMs: round(floorMs),
      floorRatio: round(kvguard.wallMsMedian / floorMs, 3),
      floorRatioMin: round(kvguard.wallMsMin / floorMs, 3),
      cpuMs,
      cpuBoundMs,
      speedupVsSequential: round(sequential.wallMsMedian / kvguard.wallMsMedian, 2),
      failures: kvguard.failures,
      throttled: kvguard.throttled,
      throttledShare: round(kvguard.throttled / Math.max(1, kvguard.calls), 4),
      kvguard,
      naivePromiseAll: naive,
      sequential,
    };
  });
}

/** An incremental run after 1 % of the objects changed: its Key Vault calls against pages + changed. */
async function incremental(stack: Stack, clients: EmulatorSdkClients, vault: string, keys: number, secrets: number) {
  const rate = Math.max(...P.rates);
  await stack.emulator.configure(vault, {
    throttle: { operations: rate, windowSeconds: 1, retryAfter: 'never', startEmpty: false },
    faults: { seed: 7, latencyMs: [P.latencyMs, P.latencyMs] },
  });
  const container = 'bench-incremental';
  await renewStorage(stack);
  await kvguardRun(stack, vault, rate, { full: true, container });
  const unchanged = await kvguardRun(stack, vault, rate, { full: false, container });
  const changedKeys = Math.round(keys * P.changedShare);
  const changedSecrets = Math.round(secrets * P.changedShare);
  // New versions of spread-out objects (every 100th), as a day of rotations would make.
  const step = Math.floor(1 / P.changedShare);
  await mapWithConcurrency(
    Array.from({ length: changedKeys }, (_, i) => i * step),
    8,
    (i) => clients.keys.createEcKey(`key-${i}`, { curve: 'P-256' }),
  );
  await mapWithConcurrency(
    Array.from({ length: changedSecrets }, (_, i) => i * step),
    8,
    (i) => clients.secrets.setSecret(`secret-${i}`, `rotated-${i}`),
  );
  const changed = await kvguardRun(stack, vault, rate, { full: false, container });
  const pages = pagesFor(keys, secrets);
  const changedCount = changedKeys + changedSecrets;
  return {
    changed: changedCount,
    pages,
    calls: changed.calls,
    stored: changed.stored,
    callRatio: round(changed.calls / (pages + changedCount), 3),
    wallMs: round(changed.wallMs),
    unchangedCalls: unchanged.calls,
    unchangedCallRatio: round(unchanged.calls / pages, 3),
    unchangedWallMs: round(unchanged.wallMs),
  };
}

/** A full run with 10 % of answers a random 429 against the same run without, at the higher rate. */
async function randomThrottle(stack: Stack, vault: string) {
  const rate = Math.max(...P.rates);
  const walls: Record<'clean' | 'random', number[]> = { clean: [], random: [] };
  let failures = 0;
  let throttled = 0;
  for (let repeat = 0; repeat < P.repeats; repeat++) {
    for (const kind of repeat % 2 ? (['random', 'clean'] as const) : (['clean', 'random'] as const)) {
      await renewStorage(stack);
      await stack.emulator.configure(vault, {
        throttle: { operations: rate, windowSeconds: 1, retryAfter: 'never', startEmpty: true },
        faults: {
          seed: repeat + 11,
          latencyMs: [P.latencyMs, P.latencyMs],
          ...(kind === 'random' ? { rate429: P.randomThrottleRate } : {}),
        },
      });
      const outcome = await kvguardRun(stack, vault, rate, { full: true, container: 'bench-random' });
      walls[kind].push(outcome.wallMs);
      if (kind === 'random') {
        failures = Math.max(failures, outcome.failures);
        throttled = Math.max(throttled, outcome.throttled);
      }
    }
  }
  return {
    rateOpsPerSecond: rate,
    random429Share: P.randomThrottleRate,
    cleanWallMsMedian: round(median(walls.clean)),
    randomWallMsMedian: round(median(walls.random)),
    slowdown: round(median(walls.random) / median(walls.clean), 3),
    failures,
    throttled,
  };
}

/** Peak RSS of the kvguard CLI process for a full run of the small and the large vault. */
async function memory(stack: Stack) {
  const result: Record<string, { objects: number; peakRssMb: number; wallMs: number; failures: number }> = {};
  for (const [vault, objects] of [
    ['memsmall', Math.round(P.memoryN / 10)],
    ['membig', P.memoryN],
  ] as const) {
    const rate = 1000;
    await renewStorage(stack);
    await stack.emulator.configure(vault, {
      throttle: { operations: rate, windowSeconds: 1, retryAfter: 'always', startEmpty: false },
      faults: { seed: 3, latencyMs: [P.latencyMs, P.latencyMs] },
    });
    const outcome = await kvguardRun(stack, vault, rate, { full: true, container: 'bench-memory' });
    result[vault] = {
      objects,
      peakRssMb: outcome.peakRssMb!,
      wallMs: round(outcome.wallMs),
      failures: outcome.failures,
    };
    process.stderr.write(`bench: memory ${objects} objects ${outcome.peakRssMb} MiB\n`);
  }
  const small = result.memsmall!;
  const big = result.membig!;
  return {
    peakRssMb: big.peakRssMb,
    peakRssMbAtTenth: small.peakRssMb,
    growth: round(big.peakRssMb / small.peakRssMb, 3),
    runs: [small, big],
  };
}

/** Starts the dev host (every function) in its own process; answers its URL and a way to stop it. */
async function startHost(settings: Record<string, string>): Promise<{ url: string; stop: () => void }> {
  const child = fork(join(__dirname, 'host-process.ts'), [JSON.stringify(settings)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`dev host exited with ${code}`)));
  });
  return { url, stop: () => child.disconnect() };
}

async function blobCount(container: ContainerClient, prefix: string): Promise<number> {
  let count = 0;
  for await (const _ of container.listBlobsFlat({ prefix })) count += 1;
  return count;
}

/**
 * Event path, as in Azure: the emulator's Event Grid delivery reaches the dev host's vaultEvents function, which
 * queues a snapshot that the backupVault queue function stores. Times new version -> blob stored, then counts the
 * snapshots a burst of new versions of one secret causes.
 */
async function events(stack: Stack) {
  const vault = 'events';
  const container = 'bench-events';
  await stack.emulator.configure(vault, {
    throttle: { operations: Math.max(...P.rates), windowSeconds: 1, retryAfter: 'never', startEmpty: false },
    faults: { seed: 5, latencyMs: [P.latencyMs, P.latencyMs] },
  });
  await renewStorage(stack);
  const host = await startHost({
    ...kvguardEnv(stack, vault, Math.max(...P.rates), container),
    KVGUARD_REQUIRE_PRINCIPAL: 'false',
    AzureWebJobsStorage: stack.azurite.connectionString,
  });
  try {
    await stack.emulator.subscribe(vault, `${host.url}/runtime/webhooks/eventgrid?functionName=vaultEvents`);
    const { secrets } = emulatorSdkClients(stack.emulator.url(vault), stack.emulator.caCertPem);
    const blobs = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient(container);
    await blobs.createIfNotExists();
    const latencies: number[] = [];
    for (let i = 0; i < P.eventSamples; i++) {
      const name = `event-${i}`;
      const started = performance.now();
      await secrets.setSecret(name, `value-${i}`);
      const prefix = `backups/${vault}/secret/${name}/`;
      while ((await blobCount(blobs, prefix)) === 0) {
        if (performance.now() - started > 60_000) throw new Error(`no snapshot of ${name} within 60 s`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      latencies.push(performance.now() - started);
    }
    // A burst: new versions of one secret as fast as the vault takes them (its first request alone, see seed).
    const burstStarted = performance.now();
    await secrets.setSecret('burst', 'v-0');
    await mapWithConcurrency(
      Array.from({ length: P.burstVersions - 1 }, (_, i) => i + 1),
      8,
      (i) => secrets.setSecret('burst', `v-${i}`),
    );
    const burstMs = performance.now() - burstStarted;
    // Every snapshot the burst causes is stored by the end of the coalescing window (30 s) plus a margin.
    await new Promise((resolve) => setTimeout(resolve, 45_000));
    const snapshots = await blobCount(blobs, `backups/${vault}/secret/burst/`);
    return {
      samples: latencies.length,
      p50Ms: round(percentile(latencies, 50)),
      p95Ms: round(percentile(latencies, 95)),
      burst: { versions: P.burstVersions, durationMs: round(burstMs), snapshots },
    };
  } finally {
    host.stop();
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

let built = false;

/** Compiles the package (`npm run build`) once per bench: kvguard is measured as it ships, not through tsx. */
function buildOnce(): void {
  if (built) return;
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      stdio: 'ignore',
    },
  );
  built = true;
}

/** Import time of the function app's entry module (compiled, as Azure runs it), without and with App Insights. */
function coldStart() {
  buildOnce();
  const measure = (extra: Record<string, string>) => {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const script =
        "const t=performance.now();require('./dist/src/index.js');process.stdout.write(String(performance.now()-t));";
      const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, env: { ...cleanEnv(), ...extra } });
      samples.push(Number(out.toString()));
    }
    return { ms: round(median(samples)), min: round(Math.min(...samples)) };
  };
  const plain = measure({});
  const withInsights = measure({
    APPLICATIONINSIGHTS_CONNECTION_STRING:
      'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/',
  });
  return { ms: plain.ms, msMin: plain.min, withAppInsightsMs: withInsights.ms, withAppInsightsMsMin: withInsights.min };
}

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'kvguard-bench-'));
  const keys = Math.floor(P.n / 2);
  const secrets = P.n - keys;
  const memoryVaults = [
    { name: 'memsmall', objects: Math.round(P.memoryN / 10) },
    { name: 'membig', objects: P.memoryN },
  ];
  const [emulator, azurite] = await Promise.all([
    EmulatorProcess.start({
      vaults: [{ name: 'bench' }, { name: 'events' }, ...memoryVaults.map((v) => ({ name: v.name }))],
      dataDir,
      pendingMs: 20,
      throttle: UNTHROTTLED,
    }),
    startAzurite(),
  ]);
  const stack: Stack = { emulator, azurite };
  try {
    const benchClients = emulatorSdkClients(emulator.url('bench'), emulator.caCertPem);
    const seeds = process.env.BENCH_ONLY?.split(',') ?? ['full', 'incremental', 'random', 'memory'];
    if (seeds.some((s) => ['full', 'incremental', 'random'].includes(s))) await seed(benchClients, keys, secrets);
    for (const vault of seeds.includes('memory') ? memoryVaults : []) {
      const clients = emulatorSdkClients(emulator.url(vault.name), emulator.caCertPem);
      await seed(clients, Math.floor(vault.objects / 2), vault.objects - Math.floor(vault.objects / 2));
    }
    process.stderr.write(`bench: seeded in ${Math.round(performance.now() - started)} ms\n`);
    const pages = pagesFor(keys, secrets);

    const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
    const run = async <T>(name: string, scenario: () => Promise<T> | T): Promise<T | undefined> =>
      !only || only.includes(name) ? scenario() : undefined;
    const fullBackup = await run('full', () => fullBackupMatrix(stack, 'bench', P.n, pages));
    const incrementalResult = await run('incremental', () => incremental(stack, benchClients, 'bench', keys, secrets));
    const random = await run('random', () => randomThrottle(stack, 'bench'));
    const memoryResult = await run('memory', () => memory(stack));
    const event = await run('event', () => events(stack));
    const cold = await run('coldstart', coldStart);

    const report = {
      benchmark: 'kvguard',
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryMb: Math.round(totalmem() / 2 ** 20) },
      node: process.version,
      parameters: { ...P, keys, secrets, pages, budgetShare: 1 },
      fullBackup,
      incremental: incrementalResult,
      randomThrottle: random,
      memory: memoryResult,
      event,
      coldStart: cold,
      benchDurationMs: round(performance.now() - started),
    };
    const text = JSON.stringify(report, null, 2);
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', 'latest.json'), `${text}\n`);
    process.stdout.write(`${text}\n`);
  } finally {
    await Promise.all([emulator.stop(), stack.azurite.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
