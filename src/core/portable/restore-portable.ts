import { randomUUID } from 'node:crypto';
import { latestBackupsAsOf } from '../catalog';
import { mapWithConcurrency } from '../concurrency';
import { KvGuardError } from '../errors';
import type { OpenVaultOptions, PortableVaults, VaultMaterial, VaultPort } from '../ports';
import { decideAction, type PlannedObject } from '../restore/plan-restore';
import { planOrAuditRefusal } from '../restore/restore-audit';
import type { BackupCarrier } from '../restore/restore-objects';
import { newReport, type NotCarried, type RestoreReport } from '../restore/restore-report';
import type { RestoreRequest } from '../restore/restore-request';
import { type RestoreCall, type RestoreDependencies, type RestoreSettings } from '../restore/restore-settings';
import { refuseConflictingPlan, restorePlanNow } from '../restore/run-plan';
import { openEnvelope, type PortableEnvelope, type PortableType } from './envelope';
import type { PortableStore, StoredSnapshot } from './portable-store';

/** What to do about a key, which no portable export can carry. */
const KEY_NOT_CARRIED =
  "a key's private half never leaves its vault or HSM, so no portable export holds it: restore its opaque backup into a vault of the same subscription and geography, or create a new key in the target vault and re-encrypt or re-sign with it";

/** Pre-flight checks at once. */
const PREFLIGHT_CONCURRENCY = 8;

/**
 * A restore from portable exports, into any vault of any geography, subscription or tenant: the newest snapshot of
 * each chosen object (as of `asOf`), with the same pre-flight, dry run, conflict policy and audit as an opaque
 * restore. Every version is unwrapped, decrypted and authenticated before anything changes (a dry run does that
 * too), then recreated oldest first with its content type, tags and attributes, optionally under `targetName`. Keys
 * and non-exportable certificates are named in `notCarried` with what to do instead.
 * @param deps - restore dependencies and the portable store and vaults
 * @param request - the validated request (`format: 'portable'`)
 * @param call - principal, request id, progress callback
 * @param settings - deadline and concurrency
 */
export async function requestPortableRestore(
  deps: RestoreDependencies,
  request: RestoreRequest,
  call: RestoreCall,
  settings: RestoreSettings,
): Promise<RestoreReport> {
  const requestId = call.requestId ?? randomUUID();
  const started = deps.clock.now();
  const open: OpenVaultOptions = { deadline: new Date(started.getTime() + settings.deadlineSeconds * 1000) };
  const target = deps.vaults.open(request.target.url, open);
  const report = newReport(requestId, request, started);
  const { portable, plan } = await planOrAuditRefusal(
    deps,
    { principal: call.principal, requestId, request },
    async () => {
      const portable = deps.portable;
      if (!portable)
        throw new KvGuardError('InvalidConfiguration', 'portable restores are not available in this deployment');
      return { portable, plan: await planPortableRestore(portable.store, deps, target, request) };
    },
  );
  const planned: RestoreReport = {
    ...report,
    notCarried: plan.notCarried,
    progress: { total: plan.objects.length, done: 0 },
  };
  const refused = await refuseConflictingPlan(deps, call, request, planned, plan.objects);
  if (refused) return refused;
  const carrier = portableCarrier(portable, portable.vaults.material(request.target.url, open), plan.snapshots, open);
  return restorePlanNow(deps, call, { request, settings, target, planned }, plan.objects, {
    crossVault: false,
    carrier,
  });
}

/** Chooses the snapshots, names what cannot be carried, and checks every target name. Changes nothing. */
async function planPortableRestore(
  store: PortableStore,
  deps: RestoreDependencies,
  target: VaultPort,
  request: RestoreRequest,
): Promise<{ objects: PlannedObject[]; snapshots: Map<PlannedObject, StoredSnapshot>; notCarried: NotCarried[] }> {
  const asOf = request.asOf === undefined ? undefined : new Date(request.asOf);
  const chosen = await chooseSnapshots(store, request, asOf);
  const notCarried: NotCarried[] = chosen.flatMap((s) => [
    ...(s.notCarried !== undefined ? [{ type: s.type, name: s.name, reason: s.notCarried }] : []),
    ...(s.disabledVersions ?? []).map((version) => ({
      type: s.type,
      name: s.name,
      reason: `version ${version} was disabled when exported and Key Vault does not read out a disabled version's value, so it is not carried; its opaque backup holds it (same subscription and geography)`,
    })),
  ]);
  if (request.objectType === undefined || request.objectType === 'key') {
    const keys = request.name
      ? [await deps.store.latestBackup(request.source.name, 'key', request.name, asOf)].filter((k) => k !== undefined)
      : (await latestBackupsAsOf(deps.store, { vault: request.source.name, type: 'key', asOf })).latest;
    for (const key of keys) notCarried.push({ type: 'key', name: key.name, reason: KEY_NOT_CARRIED });
  }
  const carried = chosen.filter((s) => s.notCarried === undefined);
  if (carried.length === 0 && notCarried.length === 0) {
    const when = request.asOf === undefined ? '' : ` at or before ${request.asOf}`;
    const what = request.name ? `of ${JSON.stringify(request.name)}` : 'of any secret or certificate';
    throw new KvGuardError(
      'NotFound',
      `no portable export ${what} from vault ${request.source.name}${when} (is "portable": true set for it in KVGUARD_VAULTS?)`,
      { field: request.name ? 'name' : 'vault' },
    );
  }
  const snapshots = new Map<PlannedObject, StoredSnapshot>();
  const objects = await mapWithConcurrency(carried, PREFLIGHT_CONCURRENCY, async (snapshot) => {
    const name = request.targetName ?? snapshot.name;
    const targetState = await target.nameState(snapshot.type, name);
    const planned: PlannedObject = {
      type: snapshot.type,
      name,
      backup: {
        blobName: snapshot.blobName,
        takenAt: snapshot.takenAt,
        sha256: '',
        size: 0,
        versionCount: snapshot.versions.length,
      },
      targetState,
      ...decideAction(snapshot.type, name, targetState, request.onConflict),
    };
    snapshots.set(planned, snapshot);
    return planned;
  });
  return { objects, snapshots, notCarried };
}

/** The newest snapshot of one object (each portable type unless `objectType`), or of every object of the vault. */
async function chooseSnapshots(
  store: PortableStore,
  request: RestoreRequest,
  asOf: Date | undefined,
): Promise<StoredSnapshot[]> {
  const types: PortableType[] =
    request.objectType === 'key' ? [] : request.objectType ? [request.objectType] : ['secret', 'certificate'];
  if (request.name === undefined) {
    const all = await Promise.all(types.map((type) => store.latestSnapshots(request.source.name, { type, asOf })));
    return all.flat();
  }
  const name = request.name;
  const found = await Promise.all(types.map((type) => store.latestSnapshot(request.source.name, type, name, asOf)));
  return found.filter((s): s is StoredSnapshot => s !== undefined);
}

/** One version, decrypted and checked, ready to be recreated (in memory only). */
interface OpenedVersion {
  envelope: PortableEnvelope;
  value: string;
}

/**
 * The portable carrier: `prepare` finds every version's envelope, unwraps and authenticates it (and checks that it
 * is the envelope of that vault, object and version); `restore` recreates the versions oldest first.
 */
function portableCarrier(
  portable: { store: PortableStore; vaults: PortableVaults },
  material: VaultMaterial,
  snapshots: Map<PlannedObject, StoredSnapshot>,
  open: OpenVaultOptions,
): BackupCarrier {
  return {
    async prepare(planned) {
      const snapshot = snapshots.get(planned)!;
      const envelopes = await portable.store.listEnvelopes(snapshot.vault, snapshot.type, snapshot.name);
      const opened: OpenedVersion[] = [];
      for (const { version, digest } of snapshot.versions) {
        const ref = envelopes
          .filter((e) => e.version === version && e.digest === digest)
          .sort((a, b) => b.sealedAt.localeCompare(a.sealedAt))[0];
        if (!ref) {
          throw new KvGuardError(
            'IntegrityError',
            `the envelope of ${snapshot.type} ${snapshot.name} version ${version} named by ${snapshot.blobName} is missing`,
          );
        }
        const envelope = await portable.store.readEnvelope(ref.blobName);
        checkIdentity(envelope, snapshot, version, ref.blobName);
        const kek = portable.vaults.keyWrapper(envelope.kek.keyId, open);
        opened.push({ envelope, value: await openEnvelope(envelope, kek, ref.blobName) });
      }
      return opened;
    },
    async restore(planned, prepared) {
      const snapshot = snapshots.get(planned)!;
      const versions = prepared as OpenedVersion[];
      let created = 0;
      try {
        for (const { envelope, value } of versions) {
          await recreateVersion(material, planned.name, envelope, value, snapshot.policy);
          created += 1;
        }
      } catch (error) {
        if (created === 0) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw new KvGuardError(
          'Internal',
          `${created} of ${versions.length} versions of ${planned.type} ${planned.name} were recreated, then: ${reason}`,
          { cause: error },
        );
      } finally {
        // Values are dropped as soon as the versions exist.
        for (const opened of versions) opened.value = '';
      }
      return versions.length;
    },
  };
}

/** An envelope copied from another object or version authenticates under its own identity: refuse it here. */
function checkIdentity(envelope: PortableEnvelope, snapshot: StoredSnapshot, version: string, where: string): void {
  const same =
    envelope.vault.toLowerCase() === snapshot.vault.toLowerCase() &&
    envelope.type === snapshot.type &&
    envelope.name.toLowerCase() === snapshot.name.toLowerCase() &&
    envelope.version === version;
  if (!same) {
    throw new KvGuardError(
      'IntegrityError',
      `envelope ${where} holds ${envelope.type} ${envelope.name} version ${envelope.version} of vault ${envelope.vault}, not ${snapshot.type} ${snapshot.name} version ${version} of vault ${snapshot.vault}`,
    );
  }
}

async function recreateVersion(
  material: VaultMaterial,
  name: string,
  envelope: PortableEnvelope,
  value: string,
  policy: unknown,
): Promise<void> {
  const { metadata } = envelope;
  if (envelope.type === 'certificate') {
    await material.importCertificate(name, value, {
      contentType: metadata.contentType ?? 'application/x-pkcs12',
      policy,
      enabled: metadata.enabled,
      tags: metadata.tags,
    });
    return;
  }
  await material.setSecret(name, value, {
    ...(metadata.contentType ? { contentType: metadata.contentType } : {}),
    tags: metadata.tags,
    enabled: metadata.enabled,
    ...(metadata.expiresOn ? { expiresOn: new Date(metadata.expiresOn) } : {}),
    ...(metadata.notBefore ? { notBefore: new Date(metadata.notBefore) } : {}),
  });
}
