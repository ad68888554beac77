/**
 * `kvguard doctor`: checks a deployment the way an operator would, from kvguard's own identity. Each check passes,
 * warns or fails with the fix; a check this environment cannot answer (Azurite has no immutability nor RBAC, the
 * emulator no Azure Resource Manager) says `unknown` and why, instead of passing.
 */
import type { ObjectType, VaultTarget } from './domain';
import { discoverVaults, protectedVaults, type DiscoveryResult, type DiscoverySettings } from './discovery';
import { describeError } from './errors';
import { randomBytes } from 'node:crypto';
import type { PruneMarks } from './retention/marks';
import type {
  AlertSink,
  Logger,
  PortableVaults,
  StateStore,
  StorageProbe,
  VaultDirectory,
  VaultPort,
  VaultPortFactory,
} from './ports';

/** How one check came out; `unknown`: this environment cannot answer it. */
export type CheckOutcome = 'pass' | 'warn' | 'fail' | 'unknown';

/** One check's result. */
export interface DoctorCheck {
  /** Stable id, e.g. `vault.backup`. */
  check: string;
  /** What it is about: a vault name, the backup container, a queue. */
  subject: string;
  outcome: CheckOutcome;
  detail: string;
  /** What to do about a warning, failure or unknown. */
  fix?: string;
}

/** Every check, with counts; `ok` unless a check failed. */
export interface DoctorReport {
  ok: boolean;
  counts: Record<CheckOutcome, number>;
  checks: DoctorCheck[];
}

/** What the doctor looks at. */
export interface DoctorSettings {
  vaults: readonly VaultTarget[];
  scratchVault?: string;
  container: string;
  /** kvguard creates missing containers itself (local stack); in Azure the infra must have. */
  createsContainers: boolean;
  queues: readonly string[];
  discovery: DiscoverySettings;
  appInsightsConfigured: boolean;
  /** Retention may tag backups prunable (`KVGUARD_PRUNING`). */
  pruning: boolean;
  /** Send a test alert through every sink. */
  sendTestAlert: boolean;
  /** KVGUARD_PORTABLE_KEK, when portable exports are configured. */
  portableKek?: string;
}

/** What the doctor needs. */
export interface DoctorDependencies {
  vaults: VaultPortFactory;
  probe: StorageProbe;
  /** The tagging port, through the prune identity; absent when pruning is off. */
  pruneMarks?: PruneMarks;
  sinks: readonly AlertSink[];
  directory?: VaultDirectory;
  state: StateStore;
  logger: Logger;
  clock: { now(): Date };
  /** Opens the KEK of portable exports. */
  portable?: PortableVaults;
}

/**
 * Runs every check.
 * @param settings - vaults, containers, queues, sinks and discovery to check
 * @param deps - vault factory, storage probe, alert sinks, ARM directory, state, logger, clock
 */
export async function runDoctor(settings: DoctorSettings, deps: DoctorDependencies): Promise<DoctorReport> {
  const discovery = await discoveryChecks(settings.discovery, deps);
  const checks: DoctorCheck[] = [...discovery.checks];
  const vaults = discovery.result ? await protectedVaults(settings.vaults, deps.state) : settings.vaults;
  for (const vault of vaults) checks.push(...(await vaultChecks(vault, deps, discovery.result)));
  if (settings.scratchVault) checks.push(await scratchCheck(settings.scratchVault, deps.vaults));
  if (settings.portableKek && deps.portable) checks.push(await kekCheck(settings.portableKek, deps.portable));
  checks.push(...(await storageChecks(settings, deps.probe)));
  checks.push(...(await queueChecks(settings.queues, deps.probe)));
  checks.push(await pruningCheck(settings.pruning, deps.pruneMarks));
  checks.push(...(await alertChecks(deps.sinks, settings.sendTestAlert, deps.clock)));
  checks.push(telemetryCheck(settings.appInsightsConfigured));
  const counts = { pass: 0, warn: 0, fail: 0, unknown: 0 };
  for (const c of checks) counts[c.outcome] += 1;
  return { ok: counts.fail === 0, counts, checks };
}

async function vaultChecks(
  vault: VaultTarget,
  deps: DoctorDependencies,
  discovered: DiscoveryResult | undefined,
): Promise<DoctorCheck[]> {
  const port = deps.vaults.open(vault.url);
  const subject = vault.name;
  const listing = await firstObject(port, vault.types);
  const checks: DoctorCheck[] = [];
  if ('error' in listing) {
    checks.push({
      check: 'vault.list',
      subject,
      outcome: 'fail',
      detail: `cannot list ${listing.type}s: ${listing.error}`,
      fix: "grant kvguard's backup role on the vault (RBAC), or its access policy (list, backup, restore, recover)",
    });
  } else {
    checks.push({ check: 'vault.list', subject, outcome: 'pass', detail: `lists ${vault.types.join(', ')}` });
    checks.push(await backupCanary(port, subject, listing.found));
  }
  checks.push(permissionModelCheck(vault, deps.probe.local, discovered));
  checks.push({
    check: 'vault.events',
    subject,
    outcome: 'unknown',
    detail: "kvguard's identity cannot read Event Grid subscriptions",
    fix: deps.probe.local
      ? 'locally the dev host delivers the emulator events itself'
      : `az eventgrid system-topic event-subscription list -g <vault's group> --system-topic-name <topic> (expect "kvguard"); azd up creates it`,
  });
  return checks;
}

/** The first object of the first type that has one, or the listing's error. */
async function firstObject(
  port: VaultPort,
  types: readonly ObjectType[],
): Promise<{ found?: { type: ObjectType; name: string } } | { type: ObjectType; error: string }> {
  for (const type of types) {
    try {
      const page = await port.listObjects(type, { pageSize: 1 });
      const first = page.items[0];
      if (first) return { found: { type, name: first.name } };
    } catch (error) {
      return { type, error: describeError(error).reason };
    }
  }
  return {};
}

/** One real backup call (its bytes are discarded): proves the backup permission, not just listing. */
async function backupCanary(
  port: VaultPort,
  subject: string,
  found: { type: ObjectType; name: string } | undefined,
): Promise<DoctorCheck> {
  if (!found) {
    return {
      check: 'vault.backup',
      subject,
      outcome: 'warn',
      detail: 'the vault is empty: no object to try a backup on',
    };
  }
  try {
    const bytes = await port.backup(found.type, found.name);
    return {
      check: 'vault.backup',
      subject,
      outcome: 'pass',
      detail: `backed up ${found.type} ${found.name} (${bytes.byteLength} bytes, not stored)`,
    };
  } catch (error) {
    return {
      check: 'vault.backup',
      subject,
      outcome: 'fail',
      detail: `cannot back up ${found.type} ${found.name}: ${describeError(error).reason}`,
      fix: `grant ${found.type}s/backup/action (kvguard's backup role, or the access policy's backup permission)`,
    };
  }
}

function permissionModelCheck(vault: VaultTarget, local: boolean, discovered?: DiscoveryResult): DoctorCheck {
  const seen = discovered?.vaults.find((v) => v.url.toLowerCase() === vault.url.toLowerCase());
  if (seen) {
    return { check: 'vault.permissionModel', subject: vault.name, outcome: 'pass', detail: seen.permissionModel };
  }
  return {
    check: 'vault.permissionModel',
    subject: vault.name,
    outcome: 'unknown',
    detail: local
      ? 'the Key Vault emulator has no Azure Resource Manager to ask'
      : 'not among the vaults discovery listed (only ARM knows the model)',
    fix: `az keyvault show --name ${vault.name} --query properties.enableRbacAuthorization (infra: permissionModel)`,
  };
}

/** The KEK of portable exports: readable, and a random data key survives a wrap and an unwrap. */
async function kekCheck(kekId: string, portable: PortableVaults): Promise<DoctorCheck> {
  const kek = portable.keyWrapper(kekId);
  try {
    const probe = randomBytes(32);
    const wrapped = await kek.wrap(probe);
    const unwrapped = Buffer.from(await kek.unwrap(wrapped.keyId, wrapped.wrappedKey));
    if (!unwrapped.equals(probe)) throw new Error('the unwrapped probe key differs from the one wrapped');
    return {
      check: 'portable.kek',
      subject: kekId,
      outcome: 'pass',
      detail: `wraps and unwraps with ${wrapped.keyId} (keep its vault in another geography than the vaults it protects)`,
    };
  } catch (error) {
    return {
      check: 'portable.kek',
      subject: kekId,
      outcome: 'fail',
      detail: describeError(error).reason,
      fix: "grant kvguard's KEK role (keys read, wrap, unwrap) on the KEK's vault (azd up does with KVGUARD_PORTABLE_KEK_VAULT_ID), and check the key allows wrapKey and unwrapKey",
    };
  }
}

async function scratchCheck(url: string, vaults: VaultPortFactory): Promise<DoctorCheck> {
  try {
    await vaults.open(url).listObjects('key', { pageSize: 1 });
    return {
      check: 'drill.scratchVault',
      subject: url,
      outcome: 'pass',
      detail: 'the drill can reach its scratch vault',
    };
  } catch (error) {
    return {
      check: 'drill.scratchVault',
      subject: url,
      outcome: 'fail',
      detail: describeError(error).reason,
      fix: "grant kvguard's drill role on the scratch vault (azd up does)",
    };
  }
}

async function storageChecks(settings: DoctorSettings, probe: StorageProbe): Promise<DoctorCheck[]> {
  const { container } = settings;
  const exists = await probe.backupContainerExists().catch((e: unknown) => describeError(e).reason);
  const local = probe.local ? azuriteUnknowns(container) : [];
  if (exists === false && settings.createsContainers) {
    const detail = 'not created yet: kvguard creates it on the first backup (KVGUARD_CREATE_CONTAINERS=true)';
    return [{ check: 'storage.container', subject: container, outcome: 'warn', detail }, ...local];
  }
  if (exists !== true) {
    return [
      {
        check: 'storage.container',
        subject: container,
        outcome: 'fail',
        detail: exists === false ? 'the backup container does not exist' : `cannot read it: ${exists}`,
        fix: 'run azd provision: the infra creates it (kvguard holds no containers/write there), or set KVGUARD_CREATE_CONTAINERS=true where the identity may',
      },
      ...local,
    ];
  }
  const present: DoctorCheck = { check: 'storage.container', subject: container, outcome: 'pass', detail: 'exists' };
  if (probe.local) return [present, ...local];
  return [present, await immutabilityCheck(container, probe), await tamperCheck(container, probe)];
}

/** What Azurite cannot answer, said as such instead of passed. */
function azuriteUnknowns(container: string): DoctorCheck[] {
  const azurite = 'Azurite implements neither immutability policies nor RBAC';
  return [
    { check: 'storage.immutability', subject: container, outcome: 'unknown', detail: azurite, fix: 'check in Azure' },
    {
      check: 'storage.tamperProof',
      subject: container,
      outcome: 'unknown',
      detail: `${azurite}: deletes succeed there`,
    },
  ];
}

async function immutabilityCheck(container: string, probe: StorageProbe): Promise<DoctorCheck> {
  const { hasPolicy } = await probe.backupImmutability();
  if (hasPolicy === undefined) {
    return { check: 'storage.immutability', subject: container, outcome: 'unknown', detail: 'the service did not say' };
  }
  const lockState = 'az storage container immutability-policy show --account-name <backup account> -c ' + container;
  return hasPolicy
    ? {
        check: 'storage.immutability',
        subject: container,
        outcome: 'pass',
        detail: 'a time-based retention policy is present; whether it is locked only ARM tells',
        fix: `${lockState} --query state (Locked after azd up with KVGUARD_LOCK_IMMUTABILITY=true)`,
      }
    : {
        check: 'storage.immutability',
        subject: container,
        outcome: 'fail',
        detail: 'no immutability policy: backups can be overwritten or deleted by anyone with write rights',
        fix: 'run azd provision (it sets the container-level retention policy)',
      };
}

async function tamperCheck(container: string, probe: StorageProbe): Promise<DoctorCheck> {
  try {
    const { canary, overwriteRefused, deleteRefused } = await probe.probeTamper();
    const allowed = [overwriteRefused ? '' : 'overwrite', deleteRefused ? '' : 'delete'].filter(Boolean);
    return allowed.length === 0
      ? {
          check: 'storage.tamperProof',
          subject: container,
          outcome: 'pass',
          detail: `overwrite and delete of ${canary} refused`,
        }
      : {
          check: 'storage.tamperProof',
          subject: container,
          outcome: 'fail',
          detail: `this identity could ${allowed.join(' and ')} ${canary}`,
          fix: 'remove Storage Blob Data Owner/Contributor from it on the backup account; keep only the kvguard Backup Writer role',
        };
  } catch (error) {
    return {
      check: 'storage.tamperProof',
      subject: container,
      outcome: 'fail',
      detail: `cannot write the canary blob: ${describeError(error).reason}`,
      fix: "grant kvguard's Backup Writer role on the backup container (azd up does)",
    };
  }
}

async function queueChecks(queues: readonly string[], probe: StorageProbe): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  for (const queue of queues) {
    const exists = await probe.queueExists(queue).catch((e: unknown) => describeError(e).reason);
    if (exists === true) checks.push({ check: 'queue', subject: queue, outcome: 'pass', detail: 'reachable' });
    else if (exists === false && probe.local)
      checks.push({
        check: 'queue',
        subject: queue,
        outcome: 'warn',
        detail: 'not created yet (locally on first use)',
      });
    else
      checks.push({
        check: 'queue',
        subject: queue,
        outcome: 'fail',
        detail: exists === false ? 'does not exist' : `unreachable: ${exists}`,
        fix: 'run azd provision (it creates the queues and grants Storage Queue Data Contributor)',
      });
  }
  return checks;
}

async function alertChecks(
  sinks: readonly AlertSink[],
  sendTestAlert: boolean,
  clock: { now(): Date },
): Promise<DoctorCheck[]> {
  if (sinks.length === 0) {
    return [
      {
        check: 'alerts.sinks',
        subject: 'alerts',
        outcome: 'warn',
        detail: 'no alert sink configured: nobody is told about deletions or failed backups',
        fix: 'set KVGUARD_ALERT_WEBHOOK_URL, KVGUARD_ALERT_EVENTGRID_ENDPOINT or APPLICATIONINSIGHTS_CONNECTION_STRING',
      },
    ];
  }
  const checks: DoctorCheck[] = [
    { check: 'alerts.sinks', subject: 'alerts', outcome: 'pass', detail: sinks.map((s) => s.name).join(', ') },
  ];
  if (!sendTestAlert) return checks;
  const now = clock.now().toISOString();
  for (const sink of sinks) {
    const alert = {
      type: 'kvguard.TestAlert',
      severity: 'info' as const,
      subject: 'kvguard/doctor',
      summary: 'Test alert from kvguard doctor: alert delivery works.',
      dedupeKey: `doctor-${now}`,
      occurredAt: now,
      data: {},
    };
    try {
      await sink.send(alert);
      checks.push({
        check: 'alerts.testDelivery',
        subject: sink.name,
        outcome: 'pass',
        detail: 'test alert delivered',
      });
    } catch (error) {
      checks.push({
        check: 'alerts.testDelivery',
        subject: sink.name,
        outcome: 'fail',
        detail: `test alert not delivered: ${describeError(error).reason}`,
        fix: 'check the sink URL/endpoint and that it accepts kvguard’s requests',
      });
    }
  }
  return checks;
}

/** Whether pruning is on and, if so, whether the prune identity can tag (one backup's tags rewritten unchanged). */
async function pruningCheck(pruning: boolean, marks: PruneMarks | undefined): Promise<DoctorCheck> {
  const check = 'retention.pruning';
  const subject = 'prune identity';
  if (!pruning || !marks) {
    return {
      check,
      subject,
      outcome: 'pass',
      detail:
        'pruning off (KVGUARD_PRUNING=false): retention plans and reports only; nothing is tagged, nothing deleted. To turn it on: azd env set KVGUARD_ENABLE_PRUNING true && azd up',
    };
  }
  const fix =
    'the prune identity needs the kvguard Backup Pruner role on the backup container (azd up with KVGUARD_ENABLE_PRUNING=true) and KVGUARD_PRUNE_CLIENT_ID must name it';
  try {
    const tried = await marks.checkTagging();
    if (!tried) {
      return { check, subject, outcome: 'unknown', detail: 'pruning on; no backup yet to check tagging on', fix };
    }
    return {
      check,
      subject,
      outcome: 'pass',
      detail: `pruning on; the prune identity can tag (rewrote the tags of ${tried.blobName} unchanged)`,
    };
  } catch (error) {
    return {
      check,
      subject,
      outcome: 'fail',
      detail: `pruning on, but tagging fails: ${describeError(error).reason}`,
      fix,
    };
  }
}

function telemetryCheck(configured: boolean): DoctorCheck {
  return configured
    ? {
        check: 'telemetry.appInsights',
        subject: 'Application Insights',
        outcome: 'pass',
        detail: 'configured; ingestion itself shows in the workbook (kvguard cannot read it back)',
      }
    : {
        check: 'telemetry.appInsights',
        subject: 'Application Insights',
        outcome: 'warn',
        detail: 'not configured: runs and alerts are only logged',
        fix: 'set APPLICATIONINSIGHTS_CONNECTION_STRING (azd up does)',
      };
}

async function discoveryChecks(
  settings: DiscoverySettings,
  deps: DoctorDependencies,
): Promise<{ checks: DoctorCheck[]; result?: DiscoveryResult }> {
  if (settings.subscriptions.length === 0 || !deps.directory) return { checks: [] };
  const result = await discoverVaults(settings, { ...deps, directory: deps.directory });
  const checks: DoctorCheck[] = [
    {
      check: 'discovery',
      subject: `tag ${settings.tagName}=protect`,
      outcome: 'pass',
      detail: `${result.vaults.length} readable tagged vault(s) in ${settings.subscriptions.length} subscription(s)`,
    },
  ];
  for (const finding of result.findings) {
    checks.push({
      check: 'discovery',
      subject: finding.vault ?? finding.subscriptionId,
      outcome: 'warn',
      detail: finding.reason,
      fix: finding.vault
        ? "grant kvguard's backup role on the vault (README: How to add a vault)"
        : "grant kvguard's identity Reader on the subscription",
    });
  }
  return { checks, result };
}
