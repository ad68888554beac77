import type { CertificatePolicyState, ObjectType, ObjectVersion } from '../domain';
import { KvGuardError } from '../errors';
import type { Clock, KeyWrapper, VaultMaterial } from '../ports';
import { metadataDigest, sealVersion, type PortableType, type SealedIdentity, type VersionMetadata } from './envelope';
import { SNAPSHOT_FORMAT, type PortableSnapshot, type PortableStore } from './portable-store';

/** What a portable export needs: the store, the vault's values, the KEK, and a clock. */
export interface PortableExportDependencies {
  portable: PortableStore;
  material: VaultMaterial;
  kek: KeyWrapper;
  clock: Clock;
}

/** What exporting one object did (no secret material). */
export type PortableExportOutcome =
  | { status: 'exported'; snapshot: string; sealed: number; reused: number; kekId: string }
  | { status: 'not-carried'; snapshot: string; reason: string }
  | { status: 'failed'; code: string; reason: string };

/** The object types whose values a portable export can carry. */
export function isPortableType(type: ObjectType): type is PortableType {
  return type === 'secret' || type === 'certificate';
}

/** The metadata a portable restore recreates, from a listed version. */
export function versionMetadata(version: ObjectVersion): VersionMetadata {
  return {
    ...(version.contentType ? { contentType: version.contentType } : {}),
    tags: { ...(version.tags ?? {}) },
    enabled: version.enabled,
    ...(version.expiresOn ? { expiresOn: version.expiresOn.toISOString() } : {}),
    ...(version.notBefore ? { notBefore: version.notBefore.toISOString() } : {}),
    ...(version.createdOn ? { createdOn: version.createdOn.toISOString() } : {}),
  };
}

/** Whether a certificate's policy lets its private key leave the vault (Key Vault's `key_props.exportable`). */
export function isExportable(policy: CertificatePolicyState | undefined): boolean {
  const content = policy?.content as { exportable?: unknown; keyProperties?: { exportable?: unknown } } | undefined;
  return (content?.exportable ?? content?.keyProperties?.exportable) !== false;
}

/** The content type of a certificate's secret (its policy's `secret_props.contentType`; PKCS#12 by default). */
function policyContentType(policy: CertificatePolicyState | undefined): string {
  const content = policy?.content as { contentType?: unknown } | undefined;
  return typeof content?.contentType === 'string' ? content.contentType : 'application/x-pkcs12';
}

/**
 * Versions oldest first: the order a restore recreates them in, so the newest becomes current again. Key Vault's
 * times have one-second resolution; versions created in the same second keep the order they were listed in.
 */
export function oldestFirst(versions: readonly ObjectVersion[]): ObjectVersion[] {
  return [...versions].sort((a, b) => (a.createdOn?.getTime() ?? 0) - (b.createdOn?.getTime() ?? 0));
}

/**
 * Exports one secret or certificate beside its opaque backup: every version whose value and metadata have no
 * envelope yet is sealed (one read of its value, a fresh data key, one wrap call) and stored create-only; versions
 * already sealed are reused, so a run costs Key Vault calls only for what changed. A snapshot then records the
 * versions in order. A certificate whose private key is not exportable gets a snapshot that says so, and nothing else.
 * @param deps - store, the vault's values, KEK, clock
 * @param object - the object, its listed versions and (certificates) policy, and the opaque backup it accompanies
 */
export async function exportPortable(
  deps: PortableExportDependencies,
  object: {
    vault: string;
    type: PortableType;
    name: string;
    versions: readonly ObjectVersion[];
    policy?: CertificatePolicyState;
    opaqueBlob: string;
    takenAt: Date;
    runId: string;
  },
): Promise<PortableExportOutcome> {
  const base = {
    format: SNAPSHOT_FORMAT,
    vault: object.vault,
    type: object.type,
    name: object.name,
    takenAt: object.takenAt.toISOString(),
    runId: object.runId,
    opaqueBlob: object.opaqueBlob,
  } as const;
  if (object.type === 'certificate' && !isExportable(object.policy)) {
    const reason = `certificate ${object.name}: its policy marks the private key non-exportable, so its value cannot leave the vault; restore the opaque backup in the same geography, or issue a new certificate in the target vault`;
    const snapshot = await deps.portable.putSnapshot({ ...base, versions: [], notCarried: reason });
    return { status: 'not-carried', snapshot, reason };
  }
  const kekId = await deps.kek.currentKeyId();
  const existing = await deps.portable.listEnvelopes(object.vault, object.type, object.name);
  const certificateContentType = object.type === 'certificate' ? policyContentType(object.policy) : undefined;
  const versions: PortableSnapshot['versions'] = [];
  const disabledVersions: string[] = [];
  let sealed = 0;
  for (const version of oldestFirst(object.versions)) {
    // Key Vault refuses to read out a disabled version's value (403 SecretDisabled): it is named, not carried.
    if (!version.enabled) {
      disabledVersions.push(version.version);
      continue;
    }
    const identity: SealedIdentity = {
      vault: object.vault,
      type: object.type,
      name: object.name,
      version: version.version,
      metadata: {
        ...versionMetadata(version),
        ...(certificateContentType ? { contentType: certificateContentType } : {}),
      },
    };
    const digest = metadataDigest(identity);
    versions.push({ version: version.version, digest });
    if (existing.some((e) => e.version === version.version && e.digest === digest)) continue;
    await sealAndStore(deps, identity, digest);
    sealed += 1;
  }
  const snapshot = await deps.portable.putSnapshot({
    ...base,
    versions,
    ...(disabledVersions.length > 0 ? { disabledVersions } : {}),
    ...(object.policy ? { policy: object.policy.content } : {}),
    kekId,
  });
  return { status: 'exported', snapshot, sealed, reused: versions.length - sealed, kekId };
}

async function sealAndStore(deps: PortableExportDependencies, identity: SealedIdentity, digest: string): Promise<void> {
  const { value } = await deps.material.secretValue(identity.name, identity.version);
  const envelope = await sealVersion(identity, value, deps.kek, deps.clock.now());
  try {
    await deps.portable.putEnvelope(envelope, digest);
  } catch (error) {
    // Another run sealed the same version and metadata under the same KEK version meanwhile: that one serves.
    if (!(error instanceof KvGuardError && error.code === 'AlreadyExists')) throw error;
  }
}
