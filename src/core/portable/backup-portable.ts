import type { BackupRecord, CertificatePolicyState, ObjectVersion, PortableEntry, VaultTarget } from '../domain';
import { describeError } from '../errors';
import type { Clock, Logger, OpenVaultOptions, PortableVaults, VaultPort } from '../ports';
import { exportPortable, isPortableType } from './export-portable';
import type { PortableStore } from './portable-store';

/** What a backup run needs for portable exports, when they are configured. */
export interface PortableBackupDependencies {
  store: PortableStore;
  vaults: PortableVaults;
  /** The KEK's key id URL (unversioned: its current version wraps); absent: no portable exports. */
  kekId?: string;
}

/** The run's context for one object's portable export. */
export interface PortableBackupContext {
  portable?: PortableBackupDependencies;
  target: VaultTarget;
  vault: VaultPort;
  clock: Clock;
  logger: Logger;
  open: OpenVaultOptions;
}

/**
 * Exports an object portably beside a stored opaque backup, when the vault has portable exports on. Never throws:
 * a failure (KEK unreachable, `secrets/get` denied) is logged and answered as a `failed` entry, so the opaque backup
 * stands and the run raises its alert.
 * @param context - the run's portable dependencies, vault and target
 * @param record - the opaque backup just stored
 * @param known - the versions and policy already read for the backup, if any
 */
export async function portableExportBeside(
  context: PortableBackupContext,
  record: BackupRecord,
  known: { versions?: readonly ObjectVersion[]; policy?: CertificatePolicyState } = {},
): Promise<PortableEntry | undefined> {
  const { portable, target, vault } = context;
  const { type, name } = record;
  if (!portable?.kekId || !target.portable || !isPortableType(type)) return undefined;
  const kekId = portable.kekId;
  try {
    const versions = known.versions ?? (await vault.listVersions(type, name));
    const policy = type === 'certificate' ? (known.policy ?? (await vault.certificatePolicy(name))) : undefined;
    const outcome = await exportPortable(
      {
        portable: portable.store,
        material: portable.vaults.material(target.url, context.open),
        kek: portable.vaults.keyWrapper(kekId, context.open),
        clock: context.clock,
      },
      {
        vault: target.name,
        type,
        name,
        versions,
        ...(policy ? { policy } : {}),
        opaqueBlob: record.blobName,
        takenAt: record.takenAt,
        runId: record.runId,
      },
    );
    if (outcome.status === 'exported')
      return { status: 'exported', snapshot: outcome.snapshot, sealed: outcome.sealed, reused: outcome.reused };
    if (outcome.status === 'not-carried')
      return { status: 'not-carried', snapshot: outcome.snapshot, reason: outcome.reason };
    return outcome;
  } catch (error) {
    const { code, reason } = describeError(error);
    context.logger.error('portable export failed; the opaque backup is stored', {
      vault: target.name,
      type,
      name,
      code,
      reason,
    });
    return { status: 'failed', code, reason };
  }
}

/**
 * For an object left unchanged: exports it again when its newest backup has no portable snapshot yet (portable
 * exports were just switched on, or the last export failed), so a gap closes on the next run, not on the next change.
 * @param context - the run's portable dependencies, vault and target
 * @param latest - the object's newest opaque backup
 */
export async function portableExportIfMissing(
  context: PortableBackupContext,
  latest: BackupRecord,
): Promise<PortableEntry | undefined> {
  const { portable, target } = context;
  if (!portable?.kekId || !target.portable || !isPortableType(latest.type)) return undefined;
  try {
    const snapshot = await portable.store.latestSnapshot(target.name, latest.type, latest.name);
    if (snapshot?.opaqueBlob === latest.blobName) return undefined;
  } catch (error) {
    const { code, reason } = describeError(error);
    return { status: 'failed', code, reason };
  }
  return portableExportBeside(context, latest);
}
