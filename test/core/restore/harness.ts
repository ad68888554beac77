/**
 * A small world for restore tests: two in-memory vaults (`prod` and `dr`), a catalog, state, queue, and a helper
 * that backs an object up through the backup use case itself.
 */
import type { BackupRecord, ObjectType } from '../../../src/core/domain';
import type { RestoreJob } from '../../../src/core/jobs';
import type { RestoreRequest, VaultRef } from '../../../src/core/restore/restore-request';
import { DEFAULT_RESTORE_SETTINGS, type RestoreSettings } from '../../../src/core/restore/restore-settings';
import {
  fakeVaultUrl,
  InMemoryBackupStore,
  InMemoryQueue,
  InMemoryStateStore,
  InMemoryVault,
  InMemoryVaultFactory,
  ManualClock,
  RecordingAlerts,
  RecordingLogger,
  RecordingTelemetry,
} from '../../support/in-memory';
import { backUpNow } from '../../support/back-up-now';

export { RecordingAlerts };

/** Everything a restore test touches. */
export function restoreWorld() {
  const clock = new ManualClock('2025-03-01T00:00:00.000Z');
  const prod = new InMemoryVault(fakeVaultUrl('prod'), { clock });
  const dr = new InMemoryVault(fakeVaultUrl('dr'), { clock });
  const scratch = new InMemoryVault(fakeVaultUrl('scratch'), { clock });
  const vaults = new InMemoryVaultFactory(prod, dr, scratch);
  const store = new InMemoryBackupStore();
  const state = new InMemoryStateStore();
  const restoreQueue = new InMemoryQueue<RestoreJob>();
  const telemetry = new RecordingTelemetry();
  const logger = new RecordingLogger();
  const alerts = new RecordingAlerts();
  const deps = { vaults, store, state, restoreQueue, telemetry, logger, clock, alerts };
  const refs: Record<'prod' | 'dr', VaultRef> = {
    prod: { name: 'prod', url: prod.url },
    dr: { name: 'dr', url: dr.url },
  };
  /** Backs an object up now, through the backup use case. */
  const backUp = (vault: InMemoryVault, type: ObjectType, name: string): Promise<BackupRecord> =>
    backUpNow(deps, vault, type, name);
  /** A request restoring from prod into prod unless overridden. */
  const request = (overrides: Partial<RestoreRequest> = {}): RestoreRequest => ({
    source: refs.prod,
    target: refs.prod,
    onConflict: 'fail',
    dryRun: false,
    ...overrides,
  });
  const settings: RestoreSettings = { ...DEFAULT_RESTORE_SETTINGS, deadlineSeconds: 60, purgeSettleSeconds: 30 };
  return {
    clock,
    prod,
    dr,
    scratch,
    vaults,
    store,
    state,
    restoreQueue,
    telemetry,
    logger,
    alerts,
    deps,
    refs,
    backUp,
    request,
    settings,
  };
}

/** Soft-deletes and purges an object: what an attacker or an accident does. */
export async function destroy(vault: InMemoryVault, type: ObjectType, name: string): Promise<void> {
  await vault.delete(type, name);
  await vault.purge(type, name);
}
