import { afterEach, describe, expect, it } from 'vitest';
import { useServices } from '../../src/composition';
import { functionDefinitions } from '../../src/functions';
import { backupsFunction } from '../../src/functions/backups';
import { statusFunction } from '../../src/functions/status';
import { httpRequest, installRestoreWorld, invocationContext } from '../core/restore/function-harness';
import { bearer } from '../support/entra';

afterEach(() => useServices(undefined));

const reader = bearer('reader@contoso.com', ['kvguard.Read']);

async function list(query: Record<string, string>, headers: Record<string, string> = reader) {
  const response = await backupsFunction.handler(
    httpRequest({ path: '/api/backups', query, headers }),
    invocationContext('backups'),
  );
  return { status: response.status, body: response.jsonBody as Record<string, any> };
}

async function catalogWorld() {
  const world = installRestoreWorld();
  world.prod.seedKey('k1').seedSecret('s1');
  const stored = [];
  for (let round = 0; round < 3; round++) {
    world.clock.advance(60_000);
    stored.push(await world.backUp(world.prod, 'key', 'k1'));
    world.clock.advance(60_000);
    stored.push(await world.backUp(world.prod, 'secret', 's1'));
  }
  return { world, stored };
}

describe('GET /api/backups', () => {
  it('is registered as an HTTP function guarded by the function key', () => {
    expect(functionDefinitions).toContain(backupsFunction);
    expect(backupsFunction).toMatchObject({ route: 'backups', methods: ['GET'], authLevel: 'function' });
  });

  it('lists the catalog newest first, page by page, with a nextLink that never echoes the function key', async () => {
    const { stored } = await catalogWorld();

    const first = await list({ vault: 'https://prod.vault.azure.net/', limit: '4', code: 'the-function-key' });
    expect(first.status).toBe(200);
    expect(first.body.items.map((i: any) => i.blobName)).toEqual(
      [...stored]
        .reverse()
        .slice(0, 4)
        .map((r) => r.blobName),
    );
    expect(first.body.items[0]).toMatchObject({
      vault: 'prod',
      type: 'secret',
      name: 's1',
      takenAt: stored[5]!.takenAt.toISOString(),
      sha256: stored[5]!.sha256,
    });
    expect(first.body.nextLink).not.toContain('the-function-key');

    const second = await list({ vault: 'prod', limit: '4', continuationToken: first.body.continuationToken });
    expect(second.body.items.map((i: any) => i.blobName)).toEqual(
      [...stored]
        .reverse()
        .slice(4)
        .map((r) => r.blobName),
    );
    expect(second.body.continuationToken).toBeUndefined();
  });

  it('filters by type, name and asOf', async () => {
    const { stored } = await catalogWorld();

    const response = await list({ vault: 'prod', type: 'keys', name: 'k1', asOf: stored[2]!.takenAt.toISOString() });

    expect(response.body.items.map((i: any) => i.blobName)).toEqual([stored[2]!.blobName, stored[0]!.blobName]);
  });

  it.each([
    ['limit', { limit: '0' }],
    ['limit', { limit: 'ten' }],
    ['type', { type: 'blob' }],
    ['asOf', { asOf: 'last tuesday' }],
    ['name', { name: 'bad name' }],
    ['continuationToken', { continuationToken: 'forged' }],
    ['vault', { vault: 'not a vault!' }],
    ['unknownParameter', { unknownParameter: 'x' }],
  ])('answers 400 naming %s', async (field, query) => {
    await catalogWorld();
    const response = await list(query);
    expect(response.status).toBe(400);
    expect(response.body.error.field).toBe(field);
  });

  it('needs a verified principal with the read or restore role when principals are required', async () => {
    await catalogWorld();
    const anonymous = await list({ vault: 'prod' }, {});
    const forged = await list(
      { vault: 'prod' },
      {
        'x-ms-client-principal': Buffer.from(
          JSON.stringify({ claims: [{ typ: 'roles', val: 'kvguard.Read' }] }),
        ).toString('base64'),
      },
    );
    const noRole = await list({ vault: 'prod' }, bearer('someone', []));
    const restorer = await list({ vault: 'prod' }, bearer('operator', ['kvguard.Restore']));
    expect([anonymous.status, forged.status, noRole.status, restorer.status]).toEqual([401, 401, 403, 200]);
  });

  it.each(['https://prod.evil.example/', 'https://prod.vault.azure.cn/', 'https://prod.vault.azure.net.evil.example/'])(
    'refuses the unconfigured vault URL %s whose first host label names a configured vault',
    async (url) => {
      await catalogWorld();
      const response = await list({ vault: url });
      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({ code: 'ValidationError', field: 'vault' });
      expect(response.body.items).toBeUndefined();
    },
  );

  it('still lists a vault that is no longer configured by its name or its Azure vault URL', async () => {
    await catalogWorld();
    const byName = await list({ vault: 'retired' });
    const byUrl = await list({ vault: 'https://retired.vault.azure.net/' });
    expect([byName.status, byUrl.status]).toEqual([200, 200]);
  });

  it('GET /api/status needs a verified principal with the read role too', async () => {
    installRestoreWorld();
    const status = async (headers: Record<string, string>) =>
      (await statusFunction.handler(httpRequest({ path: '/api/status', headers }), invocationContext('status'))).status;
    expect([await status({}), await status(bearer('someone', [])), await status(reader)]).toEqual([401, 403, 200]);
  });
});
