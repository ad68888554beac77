import { runBackupJob, type BackupDependencies } from '../../src/core/backup/backup-vault';
import { firstBackupJob } from '../../src/core/backup/runs';
import type { BackupRecord, ObjectType, VaultTarget } from '../../src/core/domain';

/**
 * Backs one object up now through the production backup use case (a `full` job naming the object), so tests
 * that need a stored backup get exactly what kvguard stores. Throws when the object was not stored.
 * @param deps - the backup dependencies (in-memory or real adapters)
 * @param vault - the vault's URL and catalog name
 */
export async function backUpNow(
  deps: BackupDependencies,
  vault: { url: string; name: string },
  type: ObjectType,
  name: string,
): Promise<BackupRecord> {
  const target: VaultTarget = { url: vault.url, name: vault.name, types: [type], critical: { kind: 'all' } };
  const job = { ...firstBackupJob(target, deps.clock, { full: true }), objects: [{ type, name }] };
  const settings = { pageSize: 25, deadlineSeconds: 60, objectConcurrency: 1, kvguardVersion: 'test', refreshDays: 7 };
  const { manifest } = await runBackupJob(job, target, deps, settings, async () => {});
  const outcome = manifest.entries[0]?.outcome;
  if (outcome?.status !== 'stored')
    throw new Error(`backup of ${type} ${name} was not stored: ${JSON.stringify(outcome ?? manifest.error)}`);
  return (await deps.store.readBackup(outcome.blobName)).record;
}

/**
 * Backup settings for policy tests: the weekly deep check is off (refreshDays far out), so only the vault policy
 * decides when an unchanged object is stored again.
 */
export const policyTestSettings = {
  pageSize: 25,
  deadlineSeconds: 60,
  objectConcurrency: 4,
  kvguardVersion: 'test',
  refreshDays: 3650,
} as const;
