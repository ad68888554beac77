import { ALERT_TYPES } from '../../src/core/alerts';
import { describe, expect, it } from 'vitest';
import { runRestoreDrill, verifyBackups, type DrillOptions } from '../../src/core/verify';
import { kvError } from '../support/in-memory';
import { restoreWorld } from './restore/harness';

async function backedUpWorld() {
  const world = restoreWorld();
  world.prod.seedKey('k1', { versions: 3 }).seedSecret('s1', { versions: 2 }).seedCertificate('c1');
  const records = [
    await world.backUp(world.prod, 'key', 'k1'),
    await world.backUp(world.prod, 'secret', 's1'),
    await world.backUp(world.prod, 'certificate', 'c1'),
  ];
  return { world, records };
}

describe('verifyBackups', () => {
  it('passes when every blob matches its catalog SHA-256', async () => {
    const { world, records } = await backedUpWorld();

    const report = await verifyBackups(world.deps);

    expect(report).toMatchObject({ status: 'passed', checked: 3, passed: 3, failed: [] });
    expect(report.bytes).toBe(records.reduce((sum, r) => sum + r.size, 0));
  });

  it('names each tampered blob, with the hashes and never the bytes', async () => {
    const { world, records } = await backedUpWorld();
    const blob = world.store.blobs.get(records[1]!.blobName)!;
    blob.bytes = new Uint8Array(blob.bytes.map((b, i) => (i === 30 ? b ^ 0xff : b)));

    const report = await verifyBackups(world.deps, { vault: 'prod' });

    expect(report.status).toBe('failed');
    expect(report.failed).toEqual([
      expect.objectContaining({
        blobName: records[1]!.blobName,
        type: 'secret',
        name: 's1',
        code: 'IntegrityError',
        reason: expect.stringContaining(records[1]!.sha256),
      }),
    ]);
  });

  it('stops at its deadline and says it is incomplete', async () => {
    const { world } = await backedUpWorld();

    const report = await verifyBackups(world.deps, {}, { deadline: world.clock.now() });

    expect(report.status).toBe('incomplete');
  });
});

describe('runRestoreDrill', () => {
  const options = (world: ReturnType<typeof restoreWorld>, overrides: Partial<DrillOptions> = {}): DrillOptions => ({
    sources: [world.refs.prod],
    scratchVaultUrl: world.scratch.url,
    sample: 10,
    principal: 'timer',
    deadlineSeconds: 60,
    purgeSettleSeconds: 30,
    random: () => 0,
    ...overrides,
  });

  it('restores the sample into the scratch vault, checks every version came back, then deletes and purges the copies', async () => {
    const { world } = await backedUpWorld();

    const report = await runRestoreDrill(world.deps, options(world));

    expect(report).toMatchObject({ status: 'passed', sampled: 3, passed: 3, failed: 0 });
    expect(report.objects.find((o) => o.name === 'k1')).toMatchObject({
      expectedVersions: 3,
      restoredVersions: 3,
      fingerprintMatches: true,
      restored: true,
      cleanedUp: true,
    });
    for (const type of ['key', 'secret', 'certificate'] as const)
      expect(world.scratch.inspect(type, `${type[0]}1`)).toBeUndefined();
    expect(world.prod.callCount('restore')).toBe(0);
    expect(world.alerts.raised).toEqual([]);
    expect(world.store.auditEntries()[0]).toMatchObject({
      action: 'drill',
      target: { vault: 'scratch' },
      outcome: 'passed',
    });
  });

  it('restores only the sample size', async () => {
    const { world } = await backedUpWorld();

    const report = await runRestoreDrill(world.deps, options(world, { sample: 1 }));

    expect(report.sampled).toBe(1);
    expect(world.scratch.callCount('restore')).toBe(1);
  });

  it('raises a critical alert when a backup does not restore completely', async () => {
    const { world, records } = await backedUpWorld();
    world.store.blobs.get(records[0]!.blobName)!.bytes = new Uint8Array([0]);
    world.scratch.failNext('restore', () =>
      kvError('BadRequest', 'backup blob is corrupt', { serviceCode: 'BadParameter' }),
    );

    const report = await runRestoreDrill(world.deps, options(world));

    expect(report.status).toBe('failed');
    expect(report.failed).toBe(2);
    expect(world.alerts.raised).toEqual([
      expect.objectContaining({
        type: ALERT_TYPES.restoreDrillFailed,
        severity: 'critical',
        summary: expect.stringMatching(/failed for 2 of 3 objects \(1 restored\): backups may not be restorable/),
      }),
    ]);
  });

  it('says a drill restored nothing, and why, instead of blaming the backups or a clean-up', async () => {
    const { world } = await backedUpWorld();
    world.scratch.failWhen(
      'restore',
      () => true,
      () => kvError('Forbidden', 'the caller may not restore into the scratch vault', { statusCode: 403 }),
    );

    const report = await runRestoreDrill(world.deps, options(world));

    expect(report.objects.every((o) => !o.restored && o.cleanedUp && o.outcome === 'failed')).toBe(true);
    expect(world.alerts.raised.map((a) => a.summary)).toEqual([
      expect.stringMatching(
        /restored nothing \(Forbidden: the caller may not restore into the scratch vault\); it shows nothing about the backups/,
      ),
    ]);
  });

  it('never deletes a live object it did not restore, and purges a soft-deleted leftover first', async () => {
    const { world } = await backedUpWorld();
    world.scratch.seedKey('k1');
    world.scratch.seedSecret('s1', { deleted: true });
    world.scratch.failNext('restore', () => kvError('Conflict', 'still purging', { statusCode: 409 }));

    const report = await runRestoreDrill(world.deps, options(world));

    const byName = Object.fromEntries(report.objects.map((o) => [o.name, o]));
    expect(byName.k1).toMatchObject({ outcome: 'failed', code: 'Conflict', restored: false });
    expect(world.scratch.inspect('key', 'k1')?.deleted).toBe(false);
    expect(byName.s1).toMatchObject({ outcome: 'passed', cleanedUp: true });
  });

  it('fails an object whose scratch copy cannot be purged (the scratch vault must stay clean)', async () => {
    const { world } = await backedUpWorld();
    world.scratch.failWhen(
      'purge',
      () => true,
      () => kvError('Forbidden', 'purge protection is on', { statusCode: 403 }),
    );

    const report = await runRestoreDrill(world.deps, options(world, { sample: 1 }));

    expect(report.objects[0]).toMatchObject({
      outcome: 'failed',
      cleanedUp: false,
      reason: expect.stringMatching(/not cleaned up/),
    });
    expect(world.alerts.raised).toHaveLength(1);
  });
});
