import { afterEach, describe, expect, it } from 'vitest';
import { useServices } from '../../src/composition';
import { functionDefinitions } from '../../src/functions';
import { alertsFunction } from '../../src/functions/alerts';
import { restoreFunction } from '../../src/functions/restore';
import { restoreStatusFunction } from '../../src/functions/restore-status';
import { restoresFunction } from '../../src/functions/restores';
import { runFunction } from '../../src/functions/run';
import { runsFunction } from '../../src/functions/runs';
import { statusFunction } from '../../src/functions/status';
import type { HttpFunctionDefinition } from '../../src/functions/definition';
import { backupVaultNow } from '../../src/core/backup/runs';
import { createAlerts } from '../../src/core/alerts';
import { destroy } from '../core/restore/harness';
import { httpRequest, installRestoreWorld, invocationContext } from '../core/restore/function-harness';
import { bearer } from '../support/entra';
import { kvError, RecordingLogger, RecordingTelemetry } from '../support/in-memory';

afterEach(() => useServices(undefined));

/** The object id the test tokens carry (see test/support/entra.ts); audit records name it after the caller. */
const OID = '00000000-0000-4000-8000-0000000000a1';
const operator = bearer('alice@contoso.com', ['kvguard.Restore']);

async function call(
  fn: HttpFunctionDefinition,
  path: string,
  init: { query?: Record<string, string>; params?: Record<string, string>; body?: unknown; method?: string } = {},
) {
  const response = await fn.handler(httpRequest({ path, headers: operator, ...init }), invocationContext(fn.name));
  return { status: response.status, body: response.jsonBody as Record<string, any> };
}

describe('history endpoints', () => {
  it('are registered as HTTP functions guarded by the function key', () => {
    for (const [fn, route] of [
      [runsFunction, 'runs'],
      [runFunction, 'runs/{id}'],
      [restoresFunction, 'restores'],
      [alertsFunction, 'alerts'],
    ] as const) {
      expect(functionDefinitions).toContain(fn);
      expect(fn).toMatchObject({ route, methods: ['GET'], authLevel: 'function' });
    }
  });

  it('GET /api/runs lists the runs newest first and GET /api/runs/{id} explains each object', async () => {
    const world = installRestoreWorld();
    world.prod.seedKey('k1').seedSecret('s1');
    const target = world.services.config.vaults.find((v) => v.name === 'prod')!;
    const settings = {
      pageSize: 25,
      deadlineSeconds: 60,
      objectConcurrency: 2,
      kvguardVersion: 'test',
      refreshDays: 7,
    };
    const first = await backupVaultNow(target, world.deps, settings);
    world.clock.advance(3_600_000);
    const second = await backupVaultNow(target, world.deps, settings);

    const list = await call(runsFunction, '/api/runs', { query: { vault: 'prod', limit: '1' } });
    expect(list.status).toBe(200);
    expect(list.body.items.map((r: any) => [r.runId, r.outcome])).toEqual([[second.runId, 'succeeded']]);
    expect(list.body.nextLink).toMatch(/^\/api\/runs\?vault=prod&limit=1&continuationToken=/);
    const next = await call(runsFunction, '/api/runs', {
      query: { vault: 'prod', limit: '1', continuationToken: list.body.continuationToken },
    });
    expect(next.body.items.map((r: any) => r.runId)).toEqual([first.runId]);

    const details = await call(runFunction, `/api/runs/${second.runId}`, { params: { id: second.runId } });
    expect(details.status).toBe(200);
    const objects = details.body.chunks.flatMap((c: any) => c.objects);
    expect(objects.map((o: any) => [o.type, o.name, o.outcome])).toEqual(
      expect.arrayContaining([
        ['key', 'k1', 'unchanged'],
        ['secret', 's1', 'unchanged'],
      ]),
    );

    expect((await call(runsFunction, '/api/runs', { query: { outcome: 'sideways' } })).body.error).toMatchObject({
      code: 'ValidationError',
      field: 'outcome',
    });
    const missing = await call(runFunction, '/api/runs/20200101T000000Z-abc', {
      params: { id: '20200101T000000Z-abc' },
    });
    expect(missing.status).toBe(404);
    expect((await call(runFunction, '/api/runs/x', { params: { id: 'x' } })).body.error.field).toBe('id');
  });

  it('GET /api/restores and GET /api/restore/{id} answer for a synchronous restore from its audit record', async () => {
    const world = installRestoreWorld();
    world.prod.seedKey('db-key');
    await world.backUp(world.prod, 'key', 'db-key');
    await destroy(world.prod, 'key', 'db-key');
    const restored = await call(restoreFunction, '/api/restore', {
      method: 'POST',
      body: { vault: 'prod', objectType: 'key', name: 'db-key' },
    });
    expect(restored.status).toBe(200);
    const id = restored.body.requestId as string;

    const list = await call(restoresFunction, '/api/restores');
    expect(list.body.items).toEqual([
      expect.objectContaining({ requestId: id, principal: `alice@contoso.com (${OID})`, counts: { restored: 1 } }),
    ]);
    const one = await call(restoreStatusFunction, `/api/restore/${id}`, { params: { id } });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ requestId: id, objectOutcomes: [{ name: 'db-key', outcome: 'restored' }] });
    const unknown = '00000000-0000-0000-0000-000000000000';
    expect((await call(restoreStatusFunction, `/api/restore/${unknown}`, { params: { id: unknown } })).status).toBe(
      404,
    );
  });

  it('shows a restore whose only audit record is its start as started, not as finished', async () => {
    const world = installRestoreWorld();
    const id = '5a0c6a4e-0000-4000-8000-000000000001';
    await world.store.appendAudit({
      action: 'restore',
      at: world.clock.now().toISOString(),
      principal: `alice@contoso.com (${OID})`,
      requestId: id,
      dryRun: false,
      source: { vault: 'prod' },
      target: { vault: 'prod' },
      objects: [{ type: 'key', name: 'db-key', outcome: 'planned' }],
      outcome: 'started',
    });
    const list = await call(restoresFunction, '/api/restores');
    expect(list.body.items).toEqual([
      expect.objectContaining({ requestId: id, outcome: 'started', counts: { planned: 1 } }),
    ]);
    const one = await call(restoreStatusFunction, `/api/restore/${id}`, { params: { id } });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ requestId: id, status: 'started', outcome: 'started' });
  });

  it('GET /api/alerts and GET /api/status show alerts still waiting for a sink', async () => {
    const world = installRestoreWorld();
    const alerts = createAlerts({
      sinks: [{ name: 'webhook', send: async () => Promise.reject(kvError('Transient', 'webhook down')) }],
      outbox: world.services.alertOutbox,
      logger: new RecordingLogger(),
      telemetry: new RecordingTelemetry(),
      clock: world.clock,
      retry: { attempts: 1 },
    });
    await alerts.raise({
      type: 'kvguard.ObjectDeleted',
      severity: 'warning',
      subject: 'prod/key/k1',
      summary: 'The key k1 in vault prod was deleted.',
      dedupeKey: 'deleted/prod/key/k1',
      occurredAt: world.clock.now().toISOString(),
      data: {},
    });
    world.clock.advance(90_000);
    const listed = await call(alertsFunction, '/api/alerts');
    expect(listed.body).toMatchObject({ pending: 1, parked: 0 });
    expect(listed.body.items[0]).toMatchObject({
      subject: 'prod/key/k1',
      status: 'pending',
      age: '1.5 min',
      deliveries: { webhook: { status: 'failed', attempts: 1, error: 'Transient: webhook down' } },
    });
    const status = await call(statusFunction, '/api/status');
    expect(status.body.alerts).toMatchObject({
      pending: 1,
      undelivered: [expect.objectContaining({ subject: 'prod/key/k1' })],
    });
  });
});
