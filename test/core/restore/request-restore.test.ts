import { describe, expect, it } from 'vitest';
import { isKvGuardError } from '../../../src/core/errors';
import { requestRestore, type RestoreCall } from '../../../src/core/restore/request-restore';
import type { RestoreRequest } from '../../../src/core/restore/restore-request';
import { kvError } from '../../support/in-memory';
import { destroy, restoreWorld } from './harness';

const call: RestoreCall = { principal: 'alice@contoso.com', allowJob: true };

async function restore(
  world: ReturnType<typeof restoreWorld>,
  request: RestoreRequest,
  options: Partial<RestoreCall> = {},
) {
  return requestRestore(world.deps, request, { ...call, ...options }, world.settings);
}

describe('requestRestore: one object', () => {
  it('brings a deleted and purged key back with every version and the same version ids', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key', { versions: 3 });
    const before = world.prod.inspect('key', 'db-key')!.versions.map((v) => v.version);
    await world.backUp(world.prod, 'key', 'db-key');
    await destroy(world.prod, 'key', 'db-key');

    const report = await restore(world, world.request({ objectType: 'key', name: 'db-key' }));

    expect(report.status).toBe('succeeded');
    expect(report.objects).toEqual([
      expect.objectContaining({
        type: 'key',
        name: 'db-key',
        targetState: 'free',
        action: 'restore',
        outcome: 'restored',
        versions: 3,
      }),
    ]);
    expect(world.prod.inspect('key', 'db-key')!.versions.map((v) => v.version)).toEqual(before);
  });

  it('audits the request (principal, source, target, objects, outcome) and sends it to telemetry', async () => {
    const world = restoreWorld();
    world.prod.seedSecret('api-token');
    await world.backUp(world.prod, 'secret', 'api-token');
    await destroy(world.prod, 'secret', 'api-token');

    const report = await restore(world, world.request({ name: 'api-token' }));

    const [started, entry] = world.store.auditEntries();
    expect(started).toMatchObject({
      action: 'restore',
      principal: 'alice@contoso.com',
      requestId: report.requestId,
      target: { vault: 'prod' },
      objects: [{ type: 'secret', name: 'api-token', outcome: 'planned' }],
      outcome: 'started',
    });
    expect(entry).toMatchObject({
      action: 'restore',
      principal: 'alice@contoso.com',
      requestId: report.requestId,
      dryRun: false,
      source: { vault: 'prod' },
      target: { vault: 'prod' },
      objects: [{ type: 'secret', name: 'api-token', outcome: 'restored' }],
      outcome: 'succeeded',
    });
    expect(report.audit).toMatch(/^audit\//);
    expect(world.telemetry.eventsNamed('kvguard.restore')[0]).toMatchObject({
      properties: { status: 'succeeded', principal: 'alice@contoso.com', sourceVault: 'prod' },
      measurements: { restored: 1 },
    });
  });

  it('has the started record (who, what, target, request id) on file before the first change', async () => {
    const world = restoreWorld();
    world.prod.seedKey('k1').seedKey('k2');
    await world.backUp(world.prod, 'key', 'k1');
    await world.backUp(world.prod, 'key', 'k2');
    await destroy(world.prod, 'key', 'k1');
    await destroy(world.prod, 'key', 'k2');
    const auditAtFirstRestore: string[][] = [];
    world.prod.failWhen(
      'restore',
      () => {
        auditAtFirstRestore.push(world.store.auditEntries().map((e) => `${e.outcome} ${e.principal} ${e.requestId}`));
        return false;
      },
      () => kvError('Internal', 'unused'),
    );

    const report = await restore(world, world.request({ objectType: 'key' }), { requestId: 'req-1' });

    expect(report.status).toBe('succeeded');
    expect(auditAtFirstRestore[0]).toEqual(['started alice@contoso.com req-1']);
    expect(
      world.store
        .auditEntries()[0]!
        .objects.map((o) => o.name)
        .sort(),
    ).toEqual(['k1', 'k2']);
  });

  it('changes nothing when the started record cannot be written, and says the request may be sent again', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');
    await destroy(world.prod, 'key', 'db-key');
    world.store.failNext('appendAudit', () => kvError('Transient', 'storage unavailable'), 3);

    await expect(restore(world, world.request({ objectType: 'key', name: 'db-key' }))).rejects.toMatchObject({
      code: 'Transient',
      message: expect.stringContaining('nothing was changed'),
    });
    expect(world.prod.callCount('restore')).toBe(0);
  });

  it('refuses to restore over a live key and changes nothing', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key', { versions: 2 });
    await world.backUp(world.prod, 'key', 'db-key');

    const report = await restore(world, world.request({ name: 'db-key' }));

    expect(report.status).toBe('conflict');
    expect(report.objects[0]).toMatchObject({
      targetState: 'live',
      outcome: 'conflict',
      reason: expect.stringMatching(/never overwrites/),
    });
    for (const method of ['restore', 'purge', 'recover', 'delete'] as const)
      expect(world.prod.callCount(method)).toBe(0);
    expect(world.store.auditEntries()[0]!.outcome).toBe('conflict');
  });

  it.each(['recover', 'purge'] as const)('never touches a live key, even with onConflict %s', async (onConflict) => {
    const world = restoreWorld();
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');

    const report = await restore(world, world.request({ name: 'db-key', onConflict }));

    expect(report.objects[0]).toMatchObject({ action: 'conflict', outcome: 'conflict' });
    expect(report.status).toBe('failed');
    for (const method of ['restore', 'purge', 'recover', 'delete'] as const)
      expect(world.prod.callCount(method)).toBe(0);
  });

  it('skips a live key when asked to skip, and counts that as success', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');

    const report = await restore(world, world.request({ name: 'db-key', onConflict: 'skip' }));

    expect(report.status).toBe('succeeded');
    expect(report.objects[0]).toMatchObject({ action: 'skip', outcome: 'skipped' });
    expect(world.prod.callCount('restore')).toBe(0);
  });

  it('refuses a soft-deleted name under fail, naming recover and purge as the ways out', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');
    await world.prod.delete('key', 'db-key');

    const report = await restore(world, world.request({ name: 'db-key' }));

    expect(report.status).toBe('conflict');
    expect(report.objects[0]).toMatchObject({
      targetState: 'deleted',
      outcome: 'conflict',
      reason: expect.stringMatching(/recover.*purge/),
    });
    expect(world.prod.inspect('key', 'db-key')!.deleted).toBe(true);
  });

  it('recovers the soft-deleted object instead of restoring when onConflict is recover', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key', { versions: 2 });
    await world.backUp(world.prod, 'key', 'db-key');
    await world.prod.delete('key', 'db-key');

    const report = await restore(world, world.request({ name: 'db-key', onConflict: 'recover' }));

    expect(report.objects[0]).toMatchObject({ action: 'recover', outcome: 'recovered', versions: 2 });
    expect(world.prod.callCount('restore')).toBe(0);
  });

  it('purges, then keeps retrying the 409 Key Vault answers right after a purge, then restores', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key', { versions: 4 });
    await world.backUp(world.prod, 'key', 'db-key');
    await world.prod.delete('key', 'db-key');
    world.prod.failNext(
      'restore',
      () => kvError('Conflict', 'Key db-key is currently being deleted', { serviceCode: 'Conflict', statusCode: 409 }),
      3,
    );

    const report = await restore(world, world.request({ name: 'db-key', onConflict: 'purge' }));

    expect(report.objects[0]).toMatchObject({
      action: 'purge-and-restore',
      outcome: 'restored',
      versions: 4,
      restoreAttempts: 4,
    });
    expect(world.prod.callCount('purge')).toBe(1);
    expect(world.clock.slept).toEqual([1000, 2000, 4000]);
  });

  it('gives up on a name that stays taken after a purge once the settle time has passed', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');
    await world.prod.delete('key', 'db-key');
    world.prod.failWhen(
      'restore',
      () => true,
      () => kvError('Conflict', 'still being purged', { serviceCode: 'Conflict', statusCode: 409 }),
    );

    const report = await restore(world, world.request({ name: 'db-key', onConflict: 'purge' }));

    expect(report.status).toBe('failed');
    expect(report.objects[0]).toMatchObject({ outcome: 'failed', code: 'Conflict', serviceCode: 'Conflict' });
    expect(world.clock.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(world.settings.purgeSettleSeconds * 1000);
  });

  it('does not retry a 409 when it did not purge (someone took the free name meanwhile)', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');
    await destroy(world.prod, 'key', 'db-key');
    world.prod.failNext('restore', () => kvError('Conflict', 'taken', { statusCode: 409 }));

    const report = await restore(world, world.request({ name: 'db-key' }));

    expect(report.objects[0]).toMatchObject({ outcome: 'failed', code: 'Conflict' });
    expect(world.prod.callCount('restore')).toBe(1);
  });

  it('refuses a tampered blob before sending it to Key Vault', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key');
    const record = await world.backUp(world.prod, 'key', 'db-key');
    await destroy(world.prod, 'key', 'db-key');
    const blob = world.store.blobs.get(record.blobName)!;
    blob.bytes = new Uint8Array(blob.bytes.map((b, i) => (i === 20 ? b ^ 1 : b)));

    const report = await restore(world, world.request({ name: 'db-key' }));

    expect(report.status).toBe('failed');
    expect(report.objects[0]).toMatchObject({
      outcome: 'failed',
      code: 'IntegrityError',
      reason: expect.stringMatching(/SHA-256.*refusing/),
    });
    expect(world.prod.callCount('restore')).toBe(0);
  });

  it('dry run returns the plan (blob, target state, action) and changes nothing', async () => {
    const world = restoreWorld();
    world.prod.seedKey('gone').seedKey('deleted').seedKey('live');
    for (const name of ['gone', 'deleted', 'live']) await world.backUp(world.prod, 'key', name);
    await destroy(world.prod, 'key', 'gone');
    await world.prod.delete('key', 'deleted');
    const callsBefore = world.prod.calls.length;

    const report = await restore(world, world.request({ onConflict: 'purge', dryRun: true }));

    expect(report.status).toBe('planned');
    const byName = Object.fromEntries(report.objects.map((o) => [o.name, o]));
    expect(byName.gone).toMatchObject({
      targetState: 'free',
      action: 'restore',
      outcome: 'planned',
      backup: { blobName: expect.stringMatching(/^backups\/prod\/key\/gone\//) },
    });
    expect(byName.deleted).toMatchObject({ targetState: 'deleted', action: 'purge-and-restore', outcome: 'planned' });
    expect(byName.live).toMatchObject({ targetState: 'live', action: 'conflict', outcome: 'conflict' });
    expect(world.prod.calls.slice(callsBefore).map((c) => c.method)).toEqual(['nameState', 'nameState', 'nameState']);
    expect(world.restoreQueue.jobs).toEqual([]);
    expect(world.store.auditEntries()[0]).toMatchObject({ dryRun: true, outcome: 'planned' });
  });

  it('answers NotFound when no backup matches, and audits the refusal', async () => {
    const world = restoreWorld();

    const error = await restore(world, world.request({ name: 'never-backed-up' })).catch((e: unknown) => e);

    expect(isKvGuardError(error, 'NotFound')).toBe(true);
    expect(world.store.auditEntries()[0]).toMatchObject({
      principal: 'alice@contoso.com',
      outcome: expect.stringMatching(/^refused: NotFound/),
    });
  });

  it('answers NotFound when every backup of the object is newer than asOf', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key');
    const asOf = world.clock.now().toISOString();
    world.clock.advance(60_000);
    await world.backUp(world.prod, 'key', 'db-key');

    await expect(restore(world, world.request({ name: 'db-key', asOf }))).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('restores one exact blob and refuses a blob of another vault as a bad `backup` field', async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key', { versions: 1 });
    const first = await world.backUp(world.prod, 'key', 'db-key');
    world.clock.advance(60_000);
    world.prod.addVersion('key', 'db-key');
    await world.backUp(world.prod, 'key', 'db-key');
    await destroy(world.prod, 'key', 'db-key');

    const report = await restore(world, world.request({ backup: first.blobName }));
    expect(report.objects[0]).toMatchObject({ outcome: 'restored', versions: 1, backup: { blobName: first.blobName } });

    await expect(
      restore(world, world.request({ source: world.refs.dr, backup: first.blobName })),
    ).rejects.toMatchObject({
      code: 'ValidationError',
      field: 'backup',
    });
  });

  it('restores into another vault, leaving the source alone', async () => {
    const world = restoreWorld();
    world.prod.seedCertificate('web-tls', { versions: 2 });
    await world.backUp(world.prod, 'certificate', 'web-tls');

    const report = await restore(world, world.request({ name: 'web-tls', target: world.refs.dr }));

    expect(report.objects[0]).toMatchObject({ type: 'certificate', outcome: 'restored', versions: 2 });
    expect(world.dr.inspect('certificate', 'web-tls')?.versions).toHaveLength(2);
    expect(world.prod.callCount('restore')).toBe(0);
    expect(world.store.auditEntries()[0]).toMatchObject({ source: { vault: 'prod' }, target: { vault: 'dr' } });
  });

  it("reports Key Vault's refusal of a cross-vault restore clearly", async () => {
    const world = restoreWorld();
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');
    world.dr.failNext('restore', () =>
      kvError('BadRequest', 'Backup blob cannot be restored: subscription mismatch', {
        serviceCode: 'BadParameter',
        statusCode: 400,
      }),
    );

    const report = await restore(world, world.request({ name: 'db-key', target: world.refs.dr }));

    expect(report.objects[0]).toMatchObject({
      outcome: 'failed',
      code: 'BadRequest',
      serviceCode: 'BadParameter',
      reason: expect.stringMatching(/subscription mismatch.*same subscription and geography/),
    });
  });

  it('never puts backup bytes into the report, logs or audit', async () => {
    const world = restoreWorld();
    world.prod.seedSecret('api-token');
    const record = await world.backUp(world.prod, 'secret', 'api-token');
    await destroy(world.prod, 'secret', 'api-token');
    const base64 = Buffer.from(world.store.blobs.get(record.blobName)!.bytes).toString('base64').slice(10, 60);

    const report = await restore(world, world.request({ name: 'api-token' }));

    const everything =
      JSON.stringify(report) +
      world.logger.text() +
      JSON.stringify(world.store.auditEntries()) +
      JSON.stringify(world.telemetry.events);
    expect(everything).not.toContain(base64);
  });
});

describe('requestRestore: whole vault', () => {
  it('restores each object as of a time between two backups, and lists objects that did not exist then', async () => {
    const world = restoreWorld();
    world.prod.seedKey('k1').seedSecret('s1');
    await world.backUp(world.prod, 'key', 'k1');
    await world.backUp(world.prod, 'secret', 's1');
    world.clock.advance(3_600_000);
    const between = world.clock.now().toISOString();
    world.clock.advance(3_600_000);
    world.prod.addVersion('key', 'k1');
    world.prod.seedKey('k2');
    await world.backUp(world.prod, 'key', 'k1');
    await world.backUp(world.prod, 'key', 'k2');
    for (const [type, name] of [
      ['key', 'k1'],
      ['secret', 's1'],
      ['key', 'k2'],
    ] as const)
      await destroy(world.prod, type, name);

    const report = await restore(world, world.request({ asOf: between }));

    expect(report.status).toBe('succeeded');
    expect(report.objects.map((o) => [o.type, o.name, o.outcome, o.versions]).sort()).toEqual([
      ['key', 'k1', 'restored', 1],
      ['secret', 's1', 'restored', 1],
    ]);
    expect(report.absent).toEqual([{ type: 'key', name: 'k2', reason: expect.stringMatching(/left alone/) }]);
    expect(world.prod.inspect('key', 'k2')).toBeUndefined();
  });

  it('under fail, one taken name stops the whole restore before anything changes', async () => {
    const world = restoreWorld();
    world.prod.seedKey('free-one').seedKey('taken');
    await world.backUp(world.prod, 'key', 'free-one');
    await world.backUp(world.prod, 'key', 'taken');
    await destroy(world.prod, 'key', 'free-one');

    const report = await restore(world, world.request({ objectType: 'key' }));

    expect(report.status).toBe('conflict');
    expect(report.counts).toMatchObject({ conflict: 1, restored: 0 });
    expect(world.prod.inspect('key', 'free-one')).toBeUndefined();
    expect(world.prod.callCount('restore')).toBe(0);
  });

  it('mixes outcomes under skip and reports them all (partial when one fails)', async () => {
    const world = restoreWorld();
    world.prod.seedKey('a').seedKey('b').seedKey('c');
    const records = [];
    for (const name of ['a', 'b', 'c']) records.push(await world.backUp(world.prod, 'key', name));
    await destroy(world.prod, 'key', 'a');
    await destroy(world.prod, 'key', 'c');
    world.store.blobs.get(records[2]!.blobName)!.bytes = new Uint8Array([1, 2, 3]);

    const report = await restore(world, world.request({ onConflict: 'skip' }), { allowJob: false });

    const outcomes = Object.fromEntries(report.objects.map((o) => [o.name, o.outcome]));
    expect(outcomes).toEqual({ a: 'restored', b: 'skipped', c: 'failed' });
    expect(report.status).toBe('partial');
  });

  it('reports progress to an in-process caller', async () => {
    const world = restoreWorld();
    for (const name of ['a', 'b', 'c']) {
      world.prod.seedKey(name);
      await world.backUp(world.prod, 'key', name);
      await destroy(world.prod, 'key', name);
    }
    const progress: [number, number][] = [];

    await restore(world, world.request(), {
      allowJob: false,
      onProgress: (done, total) => progress.push([done, total]),
    });

    expect(progress).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
  });
});
