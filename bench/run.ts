// kvguard benchmark: backup throughput, incremental cost, memory, and behaviour under throttling, measured against
// the local Key Vault emulator and Azurite with the production adapters. Prints one JSON document and writes the
// same to bench/results/latest.json. Sizes can be changed with BENCH_KEYS / BENCH_SECRETS.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAzurite } from '../dev/azurite';
import { startKeyVaultEmulator } from '../dev/emulator';
import { emulatorSdkClients } from '../dev/emulator/clients';
import { backupSettings, createServices } from '../src/composition';
import { loadConfig } from '../src/config';
import { backupVaultNow, type RunSummary } from '../src/core/backup/runs';
import { mapWithConcurrency } from '../src/core/concurrency';
import { silentLogger } from '../src/core/ports';

interface Metric {
  name: string;
  value: number;
  unit: string;
  description: string;
}

const KEYS = Number(process.env.BENCH_KEYS ?? 200);
const SECRETS = Number(process.env.BENCH_SECRETS ?? 200);
const THROTTLE_OPS_PER_SECOND = 40;

/** Samples the process's resident memory while `work` runs; answers its result and the peak in MiB. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ result: T; peakMiB: number; ms: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = performance.now();
  try {
    const result = await work();
    return { result, peakMiB: Math.round((peak / 2 ** 20) * 10) / 10, ms: Math.round(performance.now() - started) };
  } finally {
    clearInterval(timer);
  }
}

function requireSuccess(run: RunSummary, what: string): RunSummary {
  if (!run.succeeded || run.stats.failed > 0)
    throw new Error(`${what} did not succeed: ${JSON.stringify(run.errors.concat(run.failures))}`);
  return run;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kvguard-bench-'));
  const [emulator, azurite] = await Promise.all([
    startKeyVaultEmulator({ vaults: [{ name: 'bench', port: 0 }], dataDir, pendingMs: 20 }),
    startAzurite(),
  ]);
  try {
    const vault = emulator.vaults[0]!;
    const { keys, secrets } = emulatorSdkClients(vault.url, emulator.caCertPem);
    await mapWithConcurrency(
      Array.from({ length: KEYS }, (_, i) => i),
      16,
      (i) => keys.createEcKey(`key-${i}`, { curve: 'P-256' }),
    );
    await mapWithConcurrency(
      Array.from({ length: SECRETS }, (_, i) => i),
      16,
      (i) => secrets.setSecret(`secret-${i}`, `value-${i}`),
    );

    const services = createServices(
      loadConfig({
        KVGUARD_VAULTS: JSON.stringify([{ url: vault.url, name: 'bench', types: ['key', 'secret'] }]),
        KVGUARD_STORAGE: azurite.connectionString,
        KVGUARD_CREDENTIAL: 'emulator',
        KVGUARD_KEYVAULT_CA_CERT: emulator.caCertPath,
      }),
      silentLogger,
    );
    const target = services.config.vaults[0]!;
    const settings = backupSettings(services.config);
    const objects = KEYS + SECRETS;

    const full = await withPeakRss(() => backupVaultNow(target, services, settings));
    requireSuccess(full.result, 'full backup');
    const incremental = await withPeakRss(() => backupVaultNow(target, services, settings));
    requireSuccess(incremental.result, 'incremental backup');
    if (incremental.result.stats.stored !== 0)
      throw new Error(`incremental run stored ${incremental.result.stats.stored} objects`);

    // Throttled: the vault allows THROTTLE_OPS_PER_SECOND and sends no Retry-After (Key Vault often sends none).
    emulator.configure({ throttle: { operations: THROTTLE_OPS_PER_SECOND, windowSeconds: 1, retryAfter: 'never' } });
    const throttled = await withPeakRss(() => backupVaultNow(target, services, settings, { full: true }));
    requireSuccess(throttled.result, 'throttled backup');
    // Each object costs a versions listing and a backup, plus one listing call per page; the bucket starts full,
    // so the first second's worth of calls is free of the rate limit.
    const throttledCalls = objects * 2 + Math.ceil(KEYS / settings.pageSize) + Math.ceil(SECRETS / settings.pageSize);
    const rateLimitedCalls = throttledCalls - THROTTLE_OPS_PER_SECOND;

    const metrics: Metric[] = [
      { name: 'full_backup_duration', value: full.ms, unit: 'ms', description: `first run of ${objects} objects` },
      {
        name: 'full_backup_throughput',
        value: Math.round((objects / full.ms) * 1000 * 10) / 10,
        unit: 'objects/s',
        description: 'objects stored per second',
      },
      {
        name: 'full_backup_bytes',
        value: full.result.stats.bytes,
        unit: 'bytes',
        description: 'backup blob bytes stored',
      },
      {
        name: 'incremental_backup_duration',
        value: incremental.ms,
        unit: 'ms',
        description: 'second run, every object unchanged',
      },
      {
        name: 'incremental_cost_ratio',
        value: Math.round((incremental.ms / full.ms) * 1000) / 1000,
        unit: 'ratio',
        description: 'incremental / full duration',
      },
      {
        name: 'peak_rss_full_backup',
        value: full.peakMiB,
        unit: 'MiB',
        description: 'peak resident memory during the full run',
      },
      {
        name: 'throttled_backup_duration',
        value: throttled.ms,
        unit: 'ms',
        description: `full run of ${objects} objects at ${THROTTLE_OPS_PER_SECOND} ops/s, no Retry-After`,
      },
      {
        name: 'throttled_429s',
        value: throttled.result.stats.throttled,
        unit: 'count',
        description: '429 answers seen by the adapter',
      },
      {
        name: 'throttled_429_ratio',
        value: Math.round((throttled.result.stats.throttled / throttledCalls) * 1000) / 1000,
        unit: 'ratio',
        description: '429s per successful call',
      },
      {
        name: 'throttled_budget_use',
        value: Math.round((rateLimitedCalls / (throttled.ms / 1000) / THROTTLE_OPS_PER_SECOND) * 1000) / 1000,
        unit: 'ratio',
        description: 'achieved call rate / vault limit (1 = every token used)',
      },
      {
        name: 'throttled_max_concurrency',
        value: throttled.result.stats.maxConcurrency,
        unit: 'calls',
        description: 'highest concurrency the adaptive limiter reached',
      },
    ];
    const report = {
      benchmark: 'kvguard',
      at: new Date().toISOString(),
      node: process.version,
      parameters: {
        keys: KEYS,
        secrets: SECRETS,
        pageSize: settings.pageSize,
        maxConcurrency: services.config.maxConcurrency,
        throttleOpsPerSecond: THROTTLE_OPS_PER_SECOND,
      },
      metrics,
    };
    const text = JSON.stringify(report, null, 2);
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', 'latest.json'), `${text}\n`);
    process.stdout.write(`${text}\n`);
  } finally {
    await Promise.all([emulator.stop(), azurite.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
