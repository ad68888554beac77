/**
 * The kvguard Key Vault emulator: real HTTPS vaults the unchanged Azure SDK clients talk to, with soft delete,
 * backup/restore, throttling, injectable faults and Event Grid events. See `startKeyVaultEmulator`.
 */
import { certificateRoutes } from './certificates';
import { createClock } from './clock';
import { EventPublisher } from './events';
import { keyRoutes } from './keys';
import { VaultPersistence } from './persistence';
import { secretRoutes } from './secrets';
import { startVaultServer, type VaultServer } from './server';
import { ensureMasterKey, ensureTlsMaterial } from './tls';
import { TrafficShaper, type FaultOptions, type ThrottleOptions, type TrafficCounts } from './traffic';
import { Vault } from './vault';
import type { Route } from './api';

export type { FaultOptions, ThrottleOptions, TrafficCounts } from './traffic';

/** One vault to serve. */
export interface EmulatorVaultOptions {
  name: string;
  /** 0 or absent = an ephemeral port. */
  port?: number;
  /** The vault's subscription (default: the emulator's `subscriptionId`); backups restore within it only. */
  subscriptionId?: string;
  /** The vault's Azure location (default: the emulator's `location`); backups restore within its geography only. */
  location?: string;
  /** The vault's resource group (default: the emulator's `resourceGroup`). */
  resourceGroup?: string;
}

/** Everything the emulator can be told at start. */
export interface EmulatorOptions {
  vaults: EmulatorVaultOptions[];
  /** The CA, server certificate and backup master key are generated here at first start and reused after. */
  dataDir: string;
  /** When set, state is persisted there (one JSON file per vault) and reloaded on start; else in memory only. */
  persistDir?: string;
  /** Bind address, default 127.0.0.1; URLs always use https://localhost:<port>/. */
  host?: string;
  subscriptionId?: string;
  resourceGroup?: string;
  location?: string;
  throttle?: Partial<ThrottleOptions>;
  faults?: FaultOptions;
  /** How long delete/recover/purge (and certificate creation) stay in between; default 250 ms; 0 allowed. */
  pendingMs?: number;
  /** How long a create/restore right after a purge still answers 409 (after the purge finished); default 100 ms. */
  purgeConflictMs?: number;
  /** Event Grid webhook targets (Event Grid schema). */
  eventSubscriptions?: { vault: string; endpoint: string }[];
}

/** A served vault: its URL and where it lives. */
export interface RunningVault {
  name: string;
  url: string;
  subscriptionId: string;
  location: string;
  resourceGroup: string;
}

/** A started emulator. */
export interface RunningEmulator {
  vaults: RunningVault[];
  caCertPath: string;
  caCertPem: string;
  /** Emulator clock: drives timestamps and near-expiry/expiry events. */
  clock: { now(): Date; advance(ms: number): void };
  /** Changes throttling, faults (null clears) or timing at runtime, for one vault or all. */
  configure(
    change: {
      throttle?: Partial<ThrottleOptions>;
      faults?: FaultOptions | null;
      pendingMs?: number;
      purgeConflictMs?: number;
    },
    vault?: string,
  ): void;
  addEventSubscription(vault: string, endpoint: string): void;
  /** Requests each vault shaped and the faults it injected (429, 503, resets) or throttled, since start. */
  trafficCounts(): Record<string, TrafficShaper['counts']>;
  /** What the vault's throttle let through and refused so far (the bench diffs two readings). */
  traffic(vault: string): TrafficCounts;
  /** Closes servers and sockets; ports are free after. */
  stop(): Promise<void>;
}

const DEFAULTS = {
  host: '127.0.0.1',
  subscriptionId: '00000000-0000-0000-0000-000000000000',
  resourceGroup: 'kvguard-dev',
  location: 'westeurope',
  pendingMs: 250,
  purgeConflictMs: 100,
};
const EXPIRY_SCAN_MS = 5000;

interface VaultRuntime {
  vault: Vault;
  shaper: TrafficShaper;
  server: VaultServer;
  persistence?: VaultPersistence;
  timing: { pendingMs: number; purgeConflictMs: number };
}

/** Starts one HTTPS server per vault and answers like Key Vault. */
export async function startKeyVaultEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  assertUniqueNames(options.vaults);
  const tls = await ensureTlsMaterial(options.dataDir);
  const backupKey = ensureMasterKey(options.dataDir);
  const runtimes: VaultRuntime[] = [];
  const clock = createClock(() => {
    for (const runtime of runtimes) runtime.vault.settleDue();
    events.checkExpiry(runtimes.map((runtime) => runtime.vault));
  });
  const events = new EventPublisher(clock.now);
  for (const subscription of options.eventSubscriptions ?? [])
    events.subscribe(subscription.vault, subscription.endpoint);

  try {
    for (const vaultOptions of options.vaults) {
      runtimes.push(await startVault(vaultOptions, options, { tls, backupKey, clock, events }));
    }
  } catch (error) {
    await Promise.all(runtimes.map((runtime) => runtime.server.close()));
    throw error;
  }
  const scan = setInterval(() => events.checkExpiry(runtimes.map((runtime) => runtime.vault)), EXPIRY_SCAN_MS);
  scan.unref();
  events.checkExpiry(runtimes.map((runtime) => runtime.vault));

  const select = (name?: string) => {
    if (name === undefined) return runtimes;
    const found = runtimes.filter((runtime) => runtime.vault.identity.name.toLowerCase() === name.toLowerCase());
    if (!found.length) throw new Error(`emulator has no vault named '${name}'`);
    return found;
  };

  return {
    vaults: runtimes.map((runtime) => ({ ...runtime.vault.identity })),
    caCertPath: tls.caCertPath,
    caCertPem: tls.caCertPem,
    clock: { now: clock.now, advance: clock.advance },
    configure(change, vault) {
      for (const runtime of select(vault)) {
        if (change.throttle) runtime.shaper.setThrottle(change.throttle);
        if (change.faults !== undefined) runtime.shaper.setFaults(change.faults);
        if (change.pendingMs !== undefined) runtime.timing.pendingMs = change.pendingMs;
        if (change.purgeConflictMs !== undefined) runtime.timing.purgeConflictMs = change.purgeConflictMs;
      }
    },
    trafficCounts() {
      return Object.fromEntries(runtimes.map((runtime) => [runtime.vault.identity.name, { ...runtime.shaper.counts }]));
    },
    addEventSubscription(vault, endpoint) {
      select(vault);
      events.subscribe(vault, endpoint);
    },
    traffic(vault) {
      return select(vault)[0]!.shaper.traffic();
    },
    async stop() {
      clearInterval(scan);
      for (const runtime of runtimes) runtime.persistence?.flush();
      await Promise.all(runtimes.map((runtime) => runtime.server.close()));
      await events.stop();
    },
  };
}

function assertUniqueNames(vaults: EmulatorVaultOptions[]): void {
  if (!vaults.length) throw new Error('startKeyVaultEmulator needs at least one vault');
  const names = vaults.map((vault) => vault.name.toLowerCase());
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate) throw new Error(`vault name '${duplicate}' is configured twice`);
  for (const vault of vaults) {
    // Azure wants 3-24 characters; the emulator also takes 2, so the local stack's disaster-recovery vault can be `dr`.
    if (!/^[a-zA-Z][a-zA-Z0-9-]{0,22}[a-zA-Z0-9]$/.test(vault.name)) {
      throw new Error(`vault name '${vault.name}' is invalid: 2-24 letters, digits and dashes, starting with a letter`);
    }
  }
}

async function startVault(
  vaultOptions: EmulatorVaultOptions,
  options: EmulatorOptions,
  shared: {
    tls: Awaited<ReturnType<typeof ensureTlsMaterial>>;
    backupKey: Buffer;
    clock: ReturnType<typeof createClock>;
    events: EventPublisher;
  },
): Promise<VaultRuntime> {
  const timing = {
    pendingMs: options.pendingMs ?? DEFAULTS.pendingMs,
    purgeConflictMs: options.purgeConflictMs ?? DEFAULTS.purgeConflictMs,
  };
  const persistence = options.persistDir ? new VaultPersistence(options.persistDir, vaultOptions.name) : undefined;
  const shaper = new TrafficShaper(options.throttle, options.faults);
  const routes: Route[] = [...keyRoutes, ...secretRoutes, ...certificateRoutes(() => timing.pendingMs)];
  // The URL is only known once the port is bound; the vault reads it lazily through `identity.url`.
  const identity = {
    name: vaultOptions.name,
    url: '',
    subscriptionId: vaultOptions.subscriptionId ?? options.subscriptionId ?? DEFAULTS.subscriptionId,
    resourceGroup: vaultOptions.resourceGroup ?? options.resourceGroup ?? DEFAULTS.resourceGroup,
    location: vaultOptions.location ?? options.location ?? DEFAULTS.location,
  };
  const vault = new Vault(
    identity,
    shared.backupKey,
    () => timing,
    shared.clock.nowMs,
    () => persistence?.changed(),
    (changedVault, kind, object, version) => shared.events.newVersion(changedVault, kind, object, version),
  );
  persistence?.attach(vault);
  const server = await startVaultServer({
    vault,
    routes,
    shaper,
    tls: shared.tls,
    host: options.host ?? DEFAULTS.host,
    port: vaultOptions.port ?? 0,
  });
  identity.url = `https://localhost:${server.port}/`;
  return { vault, shaper, server, persistence, timing };
}
