/**
 * `npm start`: the whole local stack, with no configuration — the Key Vault emulator (a seeded `demo` vault, an
 * empty `scratch` vault for restore drills and an empty `dr` vault in the paired region), Azurite in memory, and the
 * dev host running every function definition. Writes `.kvguard/dev.json` when ready and
 * stays in the foreground until SIGINT/SIGTERM, then stops every part and exits 0.
 *
 * Environment (all optional):
 * - `KVGUARD_DEV_PORTS=ephemeral`: every part on a free port instead of 8443 / 10000 / 10001 / 7071 (tests).
 * - `KVGUARD_DEV_DIR=<dir>`: use `<dir>` instead of `<project>/.kvguard` for dev.json and the emulator's CA.
 * - `KVGUARD_DEV_LOGS=quiet`: no dev host log lines on stdout (the summary is still printed).
 * - `KVGUARD_EMULATOR={...}`: JSON tuning of the Key Vault emulator: `vaults` ([{ name, subscription?, location?,
 *   resourceGroup? }], default {@link DEFAULT_VAULTS}), `throttle` ({ operations, windowSeconds, retryAfter }),
 *   `faults` ({ seed, latencyMs, rate429, rate503, rateReset, forbidden }), `pendingMs`,
 *   `persist` (true: keep vault state in `.kvguard/emulator/state` across restarts).
 * - any app setting (`KVGUARD_*` …): overrides local.settings.json and what the stack wires.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { SETTINGS } from '../src/config';
import { functionDefinitions } from '../src/functions';
import { startAzurite, type RunningAzurite } from './azurite';
import { startKeyVaultEmulator, type RunningEmulator } from './emulator';
import { seedDemoVault, seedKek } from './emulator/seed';
import { startDevHost, type DevHostOptions, type RunningDevHost } from './host';
import { readLocalSettings, resolveDevSettings } from './settings';

/**
 * Fixed ports of the embedded default (the first Key Vault emulator vault, Azurite Blob and Queue, dev host as in
 * Core Tools); further vaults take the ports after `vault` (8444, 8445 …).
 */
export const DEFAULT_PORTS = { vault: 8443, blob: 10000, queue: 10001, host: 7071 };
/** The demo vault's name (seeded with demo content). */
export const DEMO_VAULT = 'demo';
/** The vault restore drills use (`KVGUARD_SCRATCH_VAULT`); not backed up itself. */
export const SCRATCH_VAULT = 'scratch';
/** The emulator's subscription when a vault names none. */
export const DEV_SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';

/** A vault the stack serves and where it lives (a backup restores within one subscription and geography only). */
export interface DevVault {
  name: string;
  subscription: string;
  location: string;
  resourceGroup?: string;
}

/** The vault of another geography that holds the KEK of portable exports (and receives portable restores). */
export const OFFSITE_VAULT = 'offsite';
/** The KEK the stack creates in the offsite vault. */
export const DEV_KEK_NAME = 'kvguard-kek';

/**
 * The vaults `npm start` serves unless `KVGUARD_EMULATOR.vaults` says otherwise: `demo` and `scratch` side by side,
 * `dr` in the paired region of the same geography (Key Vault restores across regions of one geography), and
 * `offsite` in another geography, where opaque backups of `demo` cannot go and portable exports can.
 */
export const DEFAULT_VAULTS: DevVault[] = [
  { name: DEMO_VAULT, subscription: DEV_SUBSCRIPTION, location: 'westeurope' },
  { name: SCRATCH_VAULT, subscription: DEV_SUBSCRIPTION, location: 'westeurope' },
  { name: 'dr', subscription: DEV_SUBSCRIPTION, location: 'northeurope' },
  { name: OFFSITE_VAULT, subscription: DEV_SUBSCRIPTION, location: 'eastus' },
];
/** The Event Grid function the emulator's vault events are delivered to. */
export const VAULT_EVENTS_FUNCTION = 'vaultEvents';

/** What `.kvguard/dev.json` holds (the shape of interface 2 in shared/README.md, plus extras). */
export interface DevStackFile {
  vaults: { name: string; url: string; subscription: string; location: string }[];
  caCertPath: string;
  storage: { connectionString: string; container: string; blobUrl: string; queueUrl: string };
  host: { url: string; functionKey: string; masterKey: string };
  emulator: { dataDir: string; caCertPath: string };
  /** The kvguard settings the dev host runs with (secret ones left out). */
  settings: Record<string, string>;
  /**
   * The alert sinks' settings (webhook URL and topic key included), so the CLI alerts through the same sinks as the
   * dev host; the file is as private as the function key it already holds.
   */
  alertSettings: Record<string, string>;
  pid: number;
  startedAt: string;
}

/** A running local stack. */
export interface LocalStack {
  file: DevStackFile;
  devJsonPath: string;
  stop(): Promise<void>;
}

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  /** Project root (local.settings.json, host.json). */
  root: string;
  /** Folder for dev.json and the emulator's CA (default `<root>/.kvguard`). */
  devDir?: string;
  /** Every part on a free port. */
  ephemeralPorts?: boolean;
  /** Write dev host logs to stdout (default true). */
  hostLogs?: boolean;
  /** Emulator tuning (throttling, faults, timing, persistence). */
  emulator?: EmulatorTuning;
  env?: Record<string, string | undefined>;
}

const vaultNameSchema = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9-]{0,22}[a-zA-Z0-9]$/, 'must be 2-24 letters, digits and dashes, starting with a letter');

const emulatorTuningSchema = z
  .object({
    vaults: z
      .array(
        z
          .object({
            name: vaultNameSchema,
            subscription: z
              .string()
              .regex(/^[0-9a-fA-F-]{36}$/, 'must be a subscription id (GUID)')
              .optional(),
            location: z
              .string()
              .regex(/^[a-z0-9]+$/, 'must be an Azure location name such as westeurope')
              .optional(),
            resourceGroup: z.string().min(1).optional(),
          })
          .strict(),
      )
      .min(1)
      .optional(),
    throttle: z
      .object({
        operations: z.number().int().positive().optional(),
        windowSeconds: z.number().positive().optional(),
        retryAfter: z.union([z.literal('always'), z.literal('never'), z.number().min(0).max(1)]).optional(),
      })
      .strict()
      .optional(),
    faults: z
      .object({
        seed: z.number().int().optional(),
        latencyMs: z.tuple([z.number().min(0), z.number().min(0)]).optional(),
        rate429: z.number().min(0).max(1).optional(),
        rate503: z.number().min(0).max(1).optional(),
        rateReset: z.number().min(0).max(1).optional(),
        forbidden: z.boolean().optional(),
      })
      .strict()
      .optional(),
    pendingMs: z.number().int().min(0).optional(),
    persist: z.boolean().optional(),
  })
  .strict();

/** How `npm start` tunes the emulator (`KVGUARD_EMULATOR`). */
export type EmulatorTuning = z.infer<typeof emulatorTuningSchema>;

/** Parses `KVGUARD_EMULATOR` (JSON); throws naming the bad field. */
export function parseEmulatorTuning(text: string | undefined): EmulatorTuning {
  if (!text?.trim()) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('KVGUARD_EMULATOR is not valid JSON');
  }
  const parsed = emulatorTuningSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = [...issue.path, ...(issue.code === 'unrecognized_keys' ? issue.keys : [])].join('.');
    throw new Error(`KVGUARD_EMULATOR: ${field || 'value'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Starts emulator, Azurite and dev host, and writes dev.json; on failure stops whatever had started. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const devDir = options.devDir ?? path.join(options.root, '.kvguard');
  const port = (preferred: number) => (options.ephemeralPorts ? Promise.resolve(0) : freeOrEphemeral(preferred));
  // Read before anything starts, so a malformed file fails fast instead of after processes were spawned.
  const local = readLocalSettings(options.root);
  const queueOptions = hostJsonQueueOptions(options.root);
  const stoppers: { part: string; stop: () => Promise<void> }[] = [];
  const startPart = async <T extends { stop(): Promise<void> }>(part: string, starting: Promise<T>): Promise<T> => {
    const started = await starting;
    stoppers.push({ part, stop: () => started.stop() });
    return started;
  };
  let devJsonPath: string | undefined;
  const stop = async () => {
    if (devJsonPath) removeIfOurs(devJsonPath);
    // Some parts settle their stop on unref'd timers; keep the process alive until every part has stopped.
    const keepAlive = setInterval(() => undefined, 1_000);
    try {
      for (const { part, stop: stopPart } of stoppers.splice(0).reverse()) {
        await stopPart().catch((error: unknown) =>
          process.stderr.write(`stopping ${part} failed: ${(error as Error).message}\n`),
        );
      }
    } finally {
      clearInterval(keepAlive);
    }
  };
  const devVaults = devVaultsOf(options.emulator);
  try {
    mkdirSync(devDir, { recursive: true });
    const emulatorDataDir = path.join(devDir, 'emulator');
    const [emulator, azurite] = await settleAll([
      startPart(
        'Key Vault emulator',
        Promise.all(devVaults.map((_vault, index) => port(DEFAULT_PORTS.vault + index))).then((vaultPorts) => {
          const { persist, vaults: _vaults, ...tuning } = options.emulator ?? {};
          return startKeyVaultEmulator({
            ...tuning,
            vaults: devVaults.map((vault, index) => ({
              name: vault.name,
              port: vaultPorts[index],
              subscriptionId: vault.subscription,
              location: vault.location,
              ...(vault.resourceGroup ? { resourceGroup: vault.resourceGroup } : {}),
            })),
            dataDir: emulatorDataDir,
            persistDir: persist ? path.join(emulatorDataDir, 'state') : undefined,
          });
        }),
      ),
      startPart(
        'Azurite',
        Promise.all([port(DEFAULT_PORTS.blob), port(DEFAULT_PORTS.queue)]).then(([blobPort, queuePort]) =>
          startAzurite({ blobPort, queuePort }),
        ),
      ),
    ]);
    const demo = emulator.vaults.find((vault) => vault.name === DEMO_VAULT) ?? emulator.vaults[0]!;
    const offsite = emulator.vaults.find((vault) => vault.name === OFFSITE_VAULT);
    const settings = resolveDevSettings({
      root: options.root,
      local,
      env: options.env,
      defaults: stackSettings(emulator, azurite),
    });
    const hostPort = await port(local.localHttpPort ?? DEFAULT_PORTS.host);
    const [host] = await settleAll([
      startPart(
        'dev host',
        startDevHost({
          definitions: functionDefinitions,
          settings,
          port: hostPort,
          ...queueOptions,
          logSink: options.hostLogs === false ? () => undefined : undefined,
        }),
      ),
      seedDemoVault(demo.url, emulator.caCertPem),
      ...(offsite ? [seedKek(offsite.url, emulator.caCertPem, DEV_KEK_NAME)] : []),
    ]);
    if (functionDefinitions.some((d) => d.trigger === 'eventGrid' && d.name === VAULT_EVENTS_FUNCTION)) {
      for (const vault of protectedVaults(emulator)) {
        emulator.addEventSubscription(
          vault.name,
          `${host.url}/runtime/webhooks/eventgrid?functionName=${VAULT_EVENTS_FUNCTION}`,
        );
      }
    }
    const file = devStackFile(emulator, azurite, host, settings, emulatorDataDir);
    devJsonPath = path.join(devDir, 'dev.json');
    writeAtomically(devJsonPath, `${JSON.stringify(file, null, 2)}\n`);
    return { file, devJsonPath, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * `Promise.all` that settles only once every part has: with `Promise.all`, a part still starting when its sibling
 * failed would register its stop after the clean-up ran and keep its port and child process.
 */
async function settleAll<T extends readonly unknown[] | []>(
  parts: T,
): Promise<{ -readonly [P in keyof T]: Awaited<T[P]> }> {
  const results: PromiseSettledResult<unknown>[] = await Promise.allSettled(parts as readonly unknown[]);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as {
    -readonly [P in keyof T]: Awaited<T[P]>;
  };
}

/** `KVGUARD_EMULATOR.vaults`, or the default three, each with its subscription and location filled in. */
function devVaultsOf(tuning: EmulatorTuning | undefined): DevVault[] {
  if (!tuning?.vaults) return DEFAULT_VAULTS;
  return tuning.vaults.map((vault) => ({
    name: vault.name,
    subscription: vault.subscription ?? DEV_SUBSCRIPTION,
    location: vault.location ?? DEFAULT_VAULTS[0]!.location,
    ...(vault.resourceGroup ? { resourceGroup: vault.resourceGroup } : {}),
  }));
}

/** Every served vault but the scratch vault: drills restore into it and delete what they restored. */
function protectedVaults(emulator: RunningEmulator): RunningEmulator['vaults'] {
  return emulator.vaults.filter((vault) => vault.name !== SCRATCH_VAULT);
}

/** What the stack wires for the dev host; local.settings.json and the environment override each. */
function stackSettings(emulator: RunningEmulator, azurite: RunningAzurite): Record<string, string> {
  const scratch = emulator.vaults.find((vault) => vault.name === SCRATCH_VAULT);
  const offsite = emulator.vaults.find((vault) => vault.name === OFFSITE_VAULT);
  // Every documented default too: triggers reference settings such as %KVGUARD_BACKUP_QUEUE%, which the Functions
  // host resolves from app settings only (the infra sets them in Azure).
  const documentedDefaults = Object.fromEntries(
    Object.values(SETTINGS).flatMap((spec) => (spec.default === undefined ? [] : [[spec.name, spec.default]])),
  );
  return {
    ...documentedDefaults,
    FUNCTIONS_WORKER_RUNTIME: 'node',
    AzureWebJobsStorage: azurite.connectionString,
    // The demo vault's secrets and certificates are also exported portably, under the offsite vault's KEK.
    KVGUARD_VAULTS: JSON.stringify(
      protectedVaults(emulator).map((vault) => ({
        url: vault.url,
        name: vault.name,
        ...(offsite && vault.name === DEMO_VAULT ? { portable: true } : {}),
      })),
    ),
    ...(offsite ? { KVGUARD_PORTABLE_KEK: `${offsite.url}keys/${DEV_KEK_NAME}` } : {}),
    ...(scratch ? { KVGUARD_SCRATCH_VAULT: scratch.url } : {}),
    KVGUARD_STORAGE: azurite.connectionString,
    KVGUARD_CREDENTIAL: 'emulator',
    KVGUARD_KEYVAULT_CA_CERT: emulator.caCertPath,
    KVGUARD_REQUIRE_PRINCIPAL: 'false',
  };
}

/** The settings that choose and reach the alert sinks. */
const ALERT_SINK_SETTINGS: readonly string[] = [
  SETTINGS.appInsights.name,
  SETTINGS.alertWebhookUrl.name,
  SETTINGS.alertWebhookFormat.name,
  SETTINGS.alertTopicEndpoint.name,
  SETTINGS.alertTopicKey.name,
];

function defaultOf(spec: { name: string; default?: string }): string {
  if (spec.default === undefined) throw new Error(`setting ${spec.name} has no default`);
  return spec.default;
}

function devStackFile(
  emulator: RunningEmulator,
  azurite: RunningAzurite,
  host: RunningDevHost,
  settings: Record<string, string>,
  emulatorDataDir: string,
): DevStackFile {
  const kvguardSettings: Record<string, string> = {};
  const alertSettings: Record<string, string> = {};
  for (const spec of Object.values(SETTINGS)) {
    const value = settings[spec.name];
    if (value === undefined) continue;
    if (!('secret' in spec && spec.secret)) kvguardSettings[spec.name] = value;
    if (ALERT_SINK_SETTINGS.includes(spec.name)) alertSettings[spec.name] = value;
  }
  return {
    vaults: emulator.vaults.map((vault) => ({
      name: vault.name,
      url: vault.url,
      subscription: vault.subscriptionId,
      location: vault.location,
    })),
    caCertPath: emulator.caCertPath,
    storage: {
      connectionString: settings.KVGUARD_STORAGE ?? azurite.connectionString,
      container: settings.KVGUARD_CONTAINER || defaultOf(SETTINGS.container),
      blobUrl: azurite.blobUrl,
      queueUrl: azurite.queueUrl,
    },
    host: { url: host.url, functionKey: host.functionKey, masterKey: host.masterKey },
    emulator: { dataDir: emulatorDataDir, caCertPath: emulator.caCertPath },
    settings: kvguardSettings,
    alertSettings,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  };
}

/** host.json `extensions.queues`, so local queue triggers retry and batch like the deployed app. */
function hostJsonQueueOptions(
  root: string,
): Pick<DevHostOptions, 'maxDequeueCount' | 'visibilityTimeoutSeconds' | 'batchSize' | 'newBatchThreshold'> {
  const file = path.join(root, 'host.json');
  if (!existsSync(file)) return {};
  const queues =
    (JSON.parse(readFileSync(file, 'utf8')) as { extensions?: { queues?: Record<string, unknown> } }).extensions
      ?.queues ?? {};
  const visibility =
    typeof queues.visibilityTimeout === 'string' ? /^(\d+):(\d{2}):(\d{2})$/.exec(queues.visibilityTimeout) : null;
  return {
    maxDequeueCount: typeof queues.maxDequeueCount === 'number' ? queues.maxDequeueCount : undefined,
    batchSize: typeof queues.batchSize === 'number' ? queues.batchSize : undefined,
    newBatchThreshold: typeof queues.newBatchThreshold === 'number' ? queues.newBatchThreshold : undefined,
    visibilityTimeoutSeconds: visibility
      ? Number(visibility[1]) * 3600 + Number(visibility[2]) * 60 + Number(visibility[3])
      : undefined,
  };
}

/** `preferred` when nothing listens there, else 0 (a free port), so a second stack or a busy port never blocks start. */
function freeOrEphemeral(preferred: number): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(0));
    probe.listen(preferred, () => probe.close(() => resolve(preferred)));
  });
}

function writeAtomically(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600 });
  renameSync(temporary, file);
}

/** dev.json describes a running stack; once it stops, a stale file would send the CLI to dead ports. */
function removeIfOurs(file: string): void {
  try {
    if ((JSON.parse(readFileSync(file, 'utf8')) as { pid?: number }).pid === process.pid) rmSync(file);
  } catch {
    // Already gone or rewritten by another stack: leave it.
  }
}

function printSummary(stack: LocalStack, readyMs: number): void {
  const { file } = stack;
  const lines = [
    '',
    `kvguard local stack ready in ${(readyMs / 1000).toFixed(1)} s`,
    ...file.vaults.map(
      (vault) => `  Key Vault emulator  ${vault.name}: ${vault.url}  (${vault.location}; CA: ${file.caCertPath})`,
    ),
    `  Azurite             blob ${file.storage.blobUrl}  queue ${file.storage.queueUrl}`,
    `  Dev host            ${file.host.url}  (function key in ${stack.devJsonPath})`,
    `  Try                 curl -H "x-functions-key: <key>" ${file.host.url}/api/status   ·   npx kvguard status`,
    '  Ctrl+C stops everything.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function stopAndExit(stack: LocalStack): Promise<never> {
  setTimeout(() => {
    process.stderr.write(`the stack did not stop within ${STOP_DEADLINE_MS / 1000} s: exiting anyway\n`);
    process.exit(1);
  }, STOP_DEADLINE_MS).unref();
  await stack.stop();
  process.stdout.write('kvguard local stack stopped\n');
  process.exit(0);
}

async function main(): Promise<void> {
  const started = Date.now();
  const env = process.env;
  const root = path.resolve(__dirname, '..');
  let stack: LocalStack | undefined;
  let stopRequested = false;
  const shutdown = async () => {
    if (stopRequested) return;
    stopRequested = true;
    // A stop requested during start-up is carried out once the stack is up (below).
    if (stack) await stopAndExit(stack);
  };
  let firstSignalAt: number | undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      firstSignalAt ??= Date.now();
      // Another signal a while later means "now" (Azurite still exits with us). One within the window is the same
      // request delivered twice: Ctrl+C reaches the whole process group, and tsx relays it once more.
      if (stopRequested && stack && Date.now() - firstSignalAt > REPEATED_SIGNAL_WINDOW_MS) {
        process.stderr.write(`${signal} while stopping: exiting now\n`);
        process.exit(1);
      }
      void shutdown();
    });
  }
  // Once a launcher is gone, stdout may be a broken pipe; losing log lines must not crash the shutdown.
  process.stdout.on('error', () => undefined);
  watchLaunchers(() => void shutdown());
  try {
    stack = await startLocalStack({
      root,
      devDir: env.KVGUARD_DEV_DIR ? path.resolve(env.KVGUARD_DEV_DIR) : undefined,
      ephemeralPorts: env.KVGUARD_DEV_PORTS === 'ephemeral',
      hostLogs: env.KVGUARD_DEV_LOGS !== 'quiet',
      emulator: parseEmulatorTuning(env.KVGUARD_EMULATOR),
      env,
    });
  } catch (error) {
    process.stderr.write(`npm start failed: ${(error as Error).message}\n`);
    process.exit(1);
  }
  if (stopRequested) return stopAndExit(stack);
  printSummary(stack, Date.now() - started);
}

/**
 * `kill <npm pid>` ends npm and its `sh -c`, but neither passes SIGTERM on, which would leave this process and its
 * Azurite child running. So the processes that launched this one (up to the nearest npm/npx, else just the parent)
 * are watched, and the stack stops as soon as one of them is gone.
 */
function watchLaunchers(onGone: () => void): void {
  const launchers = launcherPids();
  const parent = process.ppid;
  const timer = setInterval(() => {
    // A changed parent means ours died and we were re-parented (to init or a subreaper).
    if (process.ppid !== parent || launchers.some((pid) => !isAlive(pid))) {
      clearInterval(timer);
      onGone();
    }
  }, LAUNCHER_CHECK_MS);
  timer.unref();
}

const LAUNCHER_CHECK_MS = 500;
const REPEATED_SIGNAL_WINDOW_MS = 1_000;
const STOP_DEADLINE_MS = 15_000;
const MAX_LAUNCHER_DEPTH = 6;

function launcherPids(): number[] {
  const chain: number[] = [];
  let pid = process.ppid;
  try {
    // /proc tells who launched whom on Linux; elsewhere only the direct parent is watched.
    for (let depth = 0; depth < MAX_LAUNCHER_DEPTH && pid > 1 && existsSync(`/proc/${pid}/stat`); depth++) {
      chain.push(pid);
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (/(^|[/ ])(npm|npx)( |$)|npm-cli\.js|npx-cli\.js/.test(commandLine)) return chain;
      pid = Number(/\) \S+ (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? 0);
    }
  } catch {
    // A launcher that exits while we look is caught by the parent check.
  }
  return [process.ppid];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

if (require.main === module) void main();
