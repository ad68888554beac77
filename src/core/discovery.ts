/**
 * Onboarding without redeploying: besides the configured vaults, kvguard protects every vault tagged
 * `<tag>=protect` in the configured subscriptions. Discovery runs on each backup schedule; its result is kept in
 * the state store so the queue workers (which never call ARM) accept jobs for discovered vaults too. A
 * subscription kvguard cannot list, or a vault it can see but not read, is a finding — never a crash.
 */
import { z } from 'zod';
import { schemaOf } from './schema-of';
import { objectTypeSchema, type CriticalSelector, type ObjectType, type VaultTarget } from './domain';
import { describeError } from './errors';
import type { Logger, StateStore, TaggedVault, VaultDirectory, VaultPortFactory } from './ports';

/** The tag value that marks a vault for protection. */
export const PROTECT_TAG_VALUE = 'protect';

/** State-store key of the latest discovery result. */
const DISCOVERY_STATE_KEY = 'discovery/vaults';

/** Where and how to discover, and the defaults discovered vaults get. */
export interface DiscoverySettings {
  subscriptions: readonly string[];
  tagName: string;
  types: ObjectType[];
  critical: CriticalSelector;
}

/** Something discovery could not do, kept for `kvguard doctor` and the logs. */
export interface DiscoveryFinding {
  subscriptionId: string;
  /** The vault, when the finding is about one. */
  vault?: string;
  code: string;
  reason: string;
}

/** A readable tagged vault as a backup target: discovered vaults take the default policy and limit. */
export interface DiscoveredVault extends Omit<VaultTarget, 'resourceId' | 'policy' | 'rateLimit' | 'portable'> {
  resourceId: string;
  permissionModel: TaggedVault['permissionModel'];
}

/** What one discovery pass found. */
export interface DiscoveryResult {
  discoveredAt: string;
  /** Readable tagged vaults, as backup targets. */
  vaults: DiscoveredVault[];
  findings: DiscoveryFinding[];
}

const criticalSelectorSchema = schemaOf<CriticalSelector>()(
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('all') }),
    z.object({ kind: z.literal('tag'), tag: z.string(), value: z.string() }),
    z.object({ kind: z.literal('names'), patterns: z.array(z.string()) }),
  ]),
);

/** Schema of the stored discovery result, checked when the queue workers read it back. */
const discoveryResultSchema = schemaOf<DiscoveryResult>()(
  z.object({
    discoveredAt: z.string(),
    vaults: z.array(
      z.object({
        url: z.string(),
        name: z.string(),
        types: z.array(objectTypeSchema),
        critical: criticalSelectorSchema,
        resourceId: z.string(),
        permissionModel: z.enum(['rbac', 'accessPolicy']),
      }),
    ),
    findings: z.array(
      z.object({ subscriptionId: z.string(), vault: z.string().optional(), code: z.string(), reason: z.string() }),
    ),
  }),
);

/** What discovery needs. */
export interface DiscoveryDependencies {
  directory: VaultDirectory;
  vaults: VaultPortFactory;
  state: StateStore;
  logger: Logger;
  clock: { now(): Date };
}

/**
 * Lists tagged vaults in every configured subscription, keeps those kvguard can read, records the result in the
 * state store and answers it.
 * @param settings - subscriptions, tag name, defaults for discovered vaults
 * @param deps - ARM directory, vault factory (to check readability), state store, logger, clock
 */
export async function discoverVaults(
  settings: DiscoverySettings,
  deps: DiscoveryDependencies,
): Promise<DiscoveryResult> {
  const result: DiscoveryResult = { discoveredAt: deps.clock.now().toISOString(), vaults: [], findings: [] };
  for (const subscriptionId of settings.subscriptions) {
    for (const tagged of await listSubscription(subscriptionId, settings, deps, result.findings)) {
      const unreadable = await readProblem(tagged, settings.types, deps.vaults);
      if (unreadable) {
        result.findings.push({ subscriptionId, vault: tagged.name, ...unreadable });
        continue;
      }
      result.vaults.push({ ...tagged, types: settings.types, critical: settings.critical });
    }
  }
  for (const finding of result.findings) deps.logger.warn('vault discovery finding', { ...finding });
  await deps.state.write(DISCOVERY_STATE_KEY, result);
  return result;
}

async function listSubscription(
  subscriptionId: string,
  settings: DiscoverySettings,
  deps: DiscoveryDependencies,
  findings: DiscoveryFinding[],
): Promise<TaggedVault[]> {
  const found: TaggedVault[] = [];
  try {
    const tag = { name: settings.tagName, value: PROTECT_TAG_VALUE };
    for await (const vault of deps.directory.listTaggedVaults(subscriptionId, tag)) found.push(vault);
  } catch (error) {
    const { code, reason } = describeError(error);
    findings.push({ subscriptionId, code, reason: `cannot list vaults: ${reason} (grant Reader on the subscription)` });
  }
  return found;
}

/** Why kvguard cannot read a vault it can see (one cheap listing), or undefined when it can. */
async function readProblem(
  vault: TaggedVault,
  types: ObjectType[],
  factory: VaultPortFactory,
): Promise<{ code: string; reason: string } | undefined> {
  try {
    await factory.open(vault.url).listObjects(types[0] ?? 'key', { pageSize: 1 });
    return undefined;
  } catch (error) {
    const { code, reason } = describeError(error);
    return { code, reason: `tagged for protection but not readable: ${reason} (grant kvguard's backup role)` };
  }
}

/**
 * The vaults kvguard protects right now: the configured ones, then those the latest discovery found (a vault both
 * configured and tagged keeps its configured settings).
 * @param configured - the vaults of KVGUARD_VAULTS
 * @param state - the state store holding the latest discovery
 */
export async function protectedVaults(configured: readonly VaultTarget[], state: StateStore): Promise<VaultTarget[]> {
  const latest = await state.read(DISCOVERY_STATE_KEY, discoveryResultSchema);
  const known = new Set(configured.map((v) => v.url.toLowerCase()));
  const discovered = (latest?.value.vaults ?? []).filter((v) => !known.has(v.url.toLowerCase()));
  return [...configured, ...discovered.map(({ url, name, types, critical }) => ({ url, name, types, critical }))];
}

/**
 * The vaults a scheduled backup covers: the configured ones plus, when subscriptions are configured, those a fresh
 * discovery finds (its findings are logged and kept, never thrown).
 * @param configured - the vaults of KVGUARD_VAULTS
 * @param settings - discovery settings (no subscriptions: no discovery)
 * @param deps - what discovery needs; `directory` may be absent when discovery is off
 */
export async function scheduledTargets(
  configured: readonly VaultTarget[],
  settings: DiscoverySettings,
  deps: Omit<DiscoveryDependencies, 'directory'> & { directory?: VaultDirectory },
): Promise<VaultTarget[]> {
  if (settings.subscriptions.length === 0 || !deps.directory) return [...configured];
  await discoverVaults(settings, { ...deps, directory: deps.directory });
  return protectedVaults(configured, deps.state);
}
