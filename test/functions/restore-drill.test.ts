import { afterEach, describe, expect, it } from 'vitest';
import type { Timer } from '@azure/functions';
import { useServices } from '../../src/composition';
import { functionDefinitions } from '../../src/functions';
import { restoreDrillFunction } from '../../src/functions/restore-drill';
import { ALERT_TYPES } from '../../src/core/alerts';
import { installRestoreWorld, invocationContext } from '../core/restore/function-harness';

afterEach(() => useServices(undefined));

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};

describe('restoreDrill timer', () => {
  it('runs on the configured drill schedule', () => {
    expect(functionDefinitions).toContain(restoreDrillFunction);
    expect(restoreDrillFunction).toMatchObject({ trigger: 'timer', schedule: '%KVGUARD_DRILL_SCHEDULE%' });
  });

  it('does nothing without a scratch vault', async () => {
    const world = installRestoreWorld();
    world.prod.seedKey('k1');
    await world.backUp(world.prod, 'key', 'k1');

    await restoreDrillFunction.handler(timer, invocationContext('restoreDrill'));

    expect(world.scratch.calls).toEqual([]);
    expect(world.store.auditEntries()).toEqual([]);
  });

  it('drills into the scratch vault and alerts when a backup does not come back', async () => {
    const world = installRestoreWorld({
      KVGUARD_SCRATCH_VAULT: 'https://scratch.vault.azure.net/',
      KVGUARD_DRILL_SAMPLE: '2',
    });
    world.prod.seedKey('k1').seedKey('k2').seedKey('k3');
    const records = [];
    for (const name of ['k1', 'k2', 'k3']) records.push(await world.backUp(world.prod, 'key', name));
    for (const record of records) world.store.blobs.get(record.blobName)!.bytes = new Uint8Array([42]);

    await restoreDrillFunction.handler(timer, invocationContext('restoreDrill'));

    expect(world.store.auditEntries()).toEqual([
      expect.objectContaining({ action: 'drill', principal: 'timer:restoreDrill', outcome: 'failed' }),
    ]);
    expect(world.store.auditEntries()[0]!.objects).toHaveLength(2);
    expect(world.alerts.raised.map((a) => a.type)).toEqual([ALERT_TYPES.restoreDrillFailed]);
  });
});
