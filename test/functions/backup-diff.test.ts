import { afterEach, describe, expect, it } from 'vitest';
import { backupSettings, useServices } from '../../src/composition';
import { backupVaultNow } from '../../src/core/backup/runs';
import { functionDefinitions } from '../../src/functions';
import { backupDiffFunction } from '../../src/functions/backup-diff';
import { httpRequest, installRestoreWorld, invocationContext } from '../core/restore/function-harness';
import { InMemoryInventoryStore } from '../support/in-memory';

afterEach(() => useServices(undefined));

async function diff(vault: string, query: Record<string, string>) {
  const response = await backupDiffFunction.handler(
    httpRequest({ path: `/api/backups/${vault}/diff`, query, params: { vault } }),
    invocationContext('backupDiff'),
  );
  return { status: response.status, body: response.jsonBody as Record<string, any> };
}

describe('GET /api/backups/{vault}/diff', () => {
  it('is registered as an HTTP function guarded by the function key', () => {
    expect(functionDefinitions).toContain(backupDiffFunction);
    expect(backupDiffFunction).toMatchObject({
      route: 'backups/{vault}/diff',
      methods: ['GET'],
      authLevel: 'function',
    });
  });

  it('answers what was added and deleted since a restore point, against the live vault or a later one', async () => {
    const world = installRestoreWorld();
    const services = { ...world.services, inventory: new InMemoryInventoryStore() };
    useServices(services);
    const prod = services.config.vaults.find((v) => v.name === 'prod')!;
    world.prod.seedKey('k1').seedSecret('s1');
    const before = await backupVaultNow(prod, services, backupSettings(services.config));
    world.clock.advance(60_000);
    world.prod.seedKey('k2');
    await world.prod.delete('secret', 's1');

    const live = await diff('prod', { asOf: before.finishedAt, live: 'true', code: 'key' });
    expect(live.status).toBe(200);
    expect(live.body).toMatchObject({
      vault: 'prod',
      to: { basis: 'live' },
      added: [{ type: 'key', name: 'k2' }],
      deleted: [{ type: 'secret', name: 's1' }],
    });

    const later = await diff('prod', { asOf: before.finishedAt, to: world.clock.now().toISOString() });
    expect(later.body).toMatchObject({ added: [], deleted: [], unchanged: 2 });
  });

  it.each([
    [{}, 'asOf'],
    [{ asOf: 'yesterday' }, 'asOf'],
    [{ asOf: '2025-03-01T00:00:00Z', live: 'yes' }, 'live'],
    [{ asOf: '2025-03-01T00:00:00Z', live: 'true', to: '2025-03-02T00:00:00Z' }, 'to'],
    [{ asOf: '2025-03-01T00:00:00Z', since: 'x' }, 'since'],
  ])('refuses %j with a 400 naming the field', async (query, field) => {
    installRestoreWorld();
    const answer = await diff('prod', query);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'ValidationError', field });
  });

  it('answers 404 for a vault kvguard does not protect', async () => {
    installRestoreWorld();
    const answer = await diff('elsewhere', { asOf: '2025-03-01T00:00:00Z' });
    expect(answer.status).toBe(404);
    expect(answer.body.error).toMatchObject({ code: 'NotFound', field: 'vault' });
  });
});
