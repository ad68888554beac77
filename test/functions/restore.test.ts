import { afterEach, describe, expect, it } from 'vitest';
import { useServices } from '../../src/composition';
import { functionDefinitions } from '../../src/functions';
import { restoreFunction } from '../../src/functions/restore';
import { restoreJobFunction } from '../../src/functions/restore-job';
import { restoreStatusFunction } from '../../src/functions/restore-status';
import { ASYNC_RESTORE_THRESHOLD } from '../../src/core/restore/restore-settings';
import { destroy } from '../core/restore/harness';
import { httpRequest, installRestoreWorld, invocationContext, principalHeader } from '../core/restore/function-harness';

afterEach(() => useServices(undefined));

const operator = { 'x-ms-client-principal': principalHeader('alice@contoso.com', ['kvguard.Restore']) };

async function post(body: unknown, headers: Record<string, string> = operator) {
  const response = await restoreFunction.handler(
    httpRequest({ method: 'POST', path: '/api/restore', body, headers }),
    invocationContext('restore'),
  );
  return {
    status: response.status,
    body: response.jsonBody as Record<string, any>,
    headers: response.headers as Record<string, string>,
  };
}

async function getStatus(id: string) {
  const response = await restoreStatusFunction.handler(
    httpRequest({ path: `/api/restore/${id}`, params: { id }, headers: operator }),
    invocationContext('restoreStatus'),
  );
  return { status: response.status, body: response.jsonBody as Record<string, any> };
}

describe('POST /api/restore', () => {
  it('is registered as an HTTP function guarded by the function key', () => {
    expect(functionDefinitions).toContain(restoreFunction);
    expect(restoreFunction).toMatchObject({
      trigger: 'http',
      route: 'restore',
      methods: ['POST'],
      authLevel: 'function',
    });
  });

  it('answers 401 without a principal and 403 without the role, changes nothing, and audits the attempt', async () => {
    const world = installRestoreWorld();
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');
    await destroy(world.prod, 'key', 'db-key');

    const anonymous = await post({ vault: 'prod', name: 'db-key' }, {});
    world.clock.advance(1_000);
    const reader = await post(
      { vault: 'prod', name: 'db-key' },
      { 'x-ms-client-principal': principalHeader('bob', ['kvguard.Read']) },
    );

    expect(anonymous.status).toBe(401);
    expect(reader.status).toBe(403);
    expect(reader.body.error.message).toContain('kvguard.Restore');
    expect(world.prod.callCount('restore')).toBe(0);
    expect(world.store.auditEntries().map((e) => [e.principal, e.outcome.split(':').slice(0, 2).join(':')])).toEqual([
      ['unauthenticated', 'refused: Unauthorized'],
      ['bob', 'refused: Forbidden'],
    ]);
  });

  it('accepts the function key alone when no principal is required (local stack)', async () => {
    const world = installRestoreWorld({ KVGUARD_REQUIRE_PRINCIPAL: 'false' });
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');
    await destroy(world.prod, 'key', 'db-key');

    const response = await post({ vault: 'prod', name: 'db-key' }, {});

    expect(response.status).toBe(200);
    expect(world.store.auditEntries()[0]!.principal).toBe('function-key');
  });

  const badBodies: [string, unknown, string][] = [
    ['not JSON', '{"vault": ', 'body'],
    ['an unknown field', { vault: 'prod', force: true }, 'force'],
    ['a wrong type', { vault: 'prod', dryRun: 'true' }, 'dryRun'],
    ['a bad URL', { vault: 'https://bad host/' }, 'vault'],
    ['an unconfigured vault', { vault: 'https://other.vault.azure.net/' }, 'vault'],
    ['an unconfigured target', { vault: 'prod', targetVault: 'elsewhere' }, 'targetVault'],
    ['a future asOf', { vault: 'prod', asOf: '2999-01-01T00:00:00Z' }, 'asOf'],
    ['an invalid name', { vault: 'prod', name: 'no/slashes' }, 'name'],
    ['an invalid object type', { vault: 'prod', objectType: 'blob' }, 'objectType'],
    ['an invalid policy', { vault: 'prod', onConflict: 'overwrite' }, 'onConflict'],
  ];

  it.each(badBodies)('answers 400 naming the field for %s, and changes nothing', async (_label, body, field) => {
    const world = installRestoreWorld();
    const request =
      typeof body === 'string'
        ? httpRequest({ method: 'POST', path: '/api/restore', rawBody: body, headers: operator })
        : httpRequest({ method: 'POST', path: '/api/restore', body, headers: operator });

    const response = await restoreFunction.handler(request, invocationContext('restore'));

    expect(response.status).toBe(400);
    expect(response.jsonBody).toMatchObject({ error: { code: 'ValidationError', field } });
    expect(world.prod.calls).toEqual([]);
    expect(world.store.auditEntries()).toHaveLength(1);
  });

  it('restores one key and answers 200 with the per-object outcome', async () => {
    const world = installRestoreWorld();
    world.prod.seedKey('db-key', { versions: 3 });
    await world.backUp(world.prod, 'key', 'db-key');
    await destroy(world.prod, 'key', 'db-key');

    const response = await post({ vault: 'prod', objectType: 'key', name: 'db-key' });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      status: 'succeeded',
      source: { name: 'prod' },
      objects: [{ type: 'key', name: 'db-key', action: 'restore', outcome: 'restored', versions: 3 }],
    });
  });

  it('answers 409 listing the conflicts under fail, 404 when no backup matches, 207 for mixed outcomes', async () => {
    const world = installRestoreWorld();
    world.prod.seedKey('live-key').seedKey('gone-key');
    const records = [
      await world.backUp(world.prod, 'key', 'live-key'),
      await world.backUp(world.prod, 'key', 'gone-key'),
    ];
    await destroy(world.prod, 'key', 'gone-key');

    const conflict = await post({ vault: 'prod' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.objects.filter((o: any) => o.outcome === 'conflict').map((o: any) => o.name)).toEqual([
      'live-key',
    ]);
    expect(world.prod.inspect('key', 'gone-key')).toBeUndefined();

    expect((await post({ vault: 'prod', name: 'never-was' })).status).toBe(404);

    world.store.blobs.get(records[1]!.blobName)!.bytes = new Uint8Array([1]);
    world.dr.seedKey('live-key');
    const mixed = await post({ vault: 'prod', targetVault: 'dr', onConflict: 'skip' });
    expect(mixed.status).toBe(207);
    expect(Object.fromEntries(mixed.body.objects.map((o: any) => [o.name, o.outcome]))).toEqual({
      'live-key': 'skipped',
      'gone-key': 'failed',
    });
  });

  it('dry run answers 200 with the plan and changes nothing', async () => {
    const world = installRestoreWorld();
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');
    await destroy(world.prod, 'key', 'db-key');
    const callsBefore = world.prod.calls.length;

    const response = await post({ vault: 'prod', name: 'db-key', dryRun: true });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      status: 'planned',
      dryRun: true,
      objects: [{ action: 'restore', outcome: 'planned' }],
    });
    expect(world.prod.calls.slice(callsBefore).map((c) => c.method)).toEqual(['nameState']);
  });

  it('runs a large whole-vault restore as a job: 202 with Location, progress on GET, the queue function finishes it', async () => {
    const world = installRestoreWorld();
    for (let i = 0; i <= ASYNC_RESTORE_THRESHOLD; i++) {
      world.prod.seedSecret(`s-${i}`);
      await world.backUp(world.prod, 'secret', `s-${i}`);
      await destroy(world.prod, 'secret', `s-${i}`);
    }

    const accepted = await post({ vault: 'prod' });
    expect(accepted.status).toBe(202);
    expect(accepted.headers.location).toBe(`/api/restore/${accepted.body.requestId}`);
    expect((await getStatus(accepted.body.requestId)).body).toMatchObject({
      status: 'queued',
      progress: { total: ASYNC_RESTORE_THRESHOLD + 1, done: 0 },
    });

    for (const job of world.restoreQueue.drain())
      await restoreJobFunction.handler(job, invocationContext('restoreJob'));

    const done = await getStatus(accepted.body.requestId);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'succeeded', progress: { done: ASYNC_RESTORE_THRESHOLD + 1 } });
    expect(world.prod.liveNames('secret')).toHaveLength(ASYNC_RESTORE_THRESHOLD + 1);
  });
});

describe('GET /api/restore/{id}', () => {
  it('answers 404 for an unknown id and 400 for a malformed one', async () => {
    installRestoreWorld();
    expect((await getStatus('0b7c3f57-1c1e-4a47-a6b1-6e0b6a1d0c55')).status).toBe(404);
    const bad = await getStatus('..%2Fsecrets');
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('id');
  });
});

describe('restoreJob queue function', () => {
  it('refuses a malformed message so the host retries and finally parks it', async () => {
    installRestoreWorld();
    await expect(
      restoreJobFunction.handler({ kind: 'restore' }, invocationContext('restoreJob')),
    ).rejects.toMatchObject({ code: 'ValidationError' });
    expect(restoreJobFunction).toMatchObject({ trigger: 'queue', queueName: '%KVGUARD_RESTORE_QUEUE%' });
  });
});
