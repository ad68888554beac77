import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionDefinition } from '../../../src/functions/definition';
import { startDevHost, type LogRecord, type RunningDevHost } from '../../../dev/host';
import { parseRouteTemplate } from '../../../dev/host/routes';

describe('dev host: HTTP functions', () => {
  let host: RunningDevHost;
  const logs: LogRecord[] = [];
  const seen: { params: Record<string, string>; query: string | null; body: string; setting?: string }[] = [];

  const definitions: FunctionDefinition[] = [
    {
      trigger: 'http',
      name: 'restoreOne',
      route: 'restore/{id}',
      methods: ['POST'],
      authLevel: 'function',
      handler: async (request, context) => {
        context.log('restoring', request.params.id);
        seen.push({
          params: request.params,
          query: request.query.get('dryRun'),
          body: await request.text(),
          setting: process.env.DEVHOST_TEST_SETTING,
        });
        return { status: 202, jsonBody: { accepted: request.params.id } };
      },
    },
    {
      trigger: 'http',
      name: 'publicPing',
      route: 'ping',
      methods: ['GET'],
      authLevel: 'anonymous',
      handler: async () => ({ body: 'pong', headers: { 'x-kvguard': 'yes' } }),
    },
    {
      trigger: 'http',
      name: 'broken',
      route: 'broken',
      methods: ['GET'],
      authLevel: 'anonymous',
      handler: async () => {
        throw new Error('secret=hunter2 leaked into an error');
      },
    },
    { trigger: 'timer', name: 'nightly', schedule: '0 0 3 * * *', handler: async () => undefined },
  ];

  beforeAll(async () => {
    host = await startDevHost({
      definitions,
      settings: { DEVHOST_TEST_SETTING: 'from-settings' },
      logSink: (r) => logs.push(r),
    });
  });
  afterAll(() => host?.stop());

  it('routes /api/<route> with its parameters, query and body to the function holding that route', async () => {
    const answer = await fetch(`${host.url}/api/restore/key-1?dryRun=true`, {
      method: 'POST',
      headers: { 'x-functions-key': host.functionKey },
      body: '{"objects":["a"]}',
    });
    expect(answer.status).toBe(202);
    expect(answer.headers.get('content-type')).toContain('application/json');
    expect(await answer.json()).toEqual({ accepted: 'key-1' });
    expect(seen.at(-1)).toEqual({
      params: { id: 'key-1' },
      query: 'true',
      body: '{"objects":["a"]}',
      setting: 'from-settings',
    });
  });

  it('accepts the function key in the code query parameter and the master key too', async () => {
    const byCode = await fetch(`${host.url}/api/restore/a?code=${encodeURIComponent(host.functionKey)}`, {
      method: 'POST',
    });
    const byMaster = await fetch(`${host.url}/api/restore/b`, {
      method: 'POST',
      headers: { 'x-functions-key': host.masterKey },
    });
    expect([byCode.status, byMaster.status]).toEqual([202, 202]);
  });

  it('answers 401 without a key or with a wrong one, and does not invoke the function', async () => {
    const before = seen.length;
    const none = await fetch(`${host.url}/api/restore/a`, { method: 'POST' });
    const wrong = await fetch(`${host.url}/api/restore/a`, {
      method: 'POST',
      headers: { 'x-functions-key': 'not-the-key' },
    });
    expect([none.status, wrong.status]).toEqual([401, 401]);
    expect(await none.json()).toEqual({
      error: {
        code: 'Unauthorized',
        message: 'a valid function key is required (x-functions-key header or code query)',
        requestId: none.headers.get('x-request-id'),
      },
    });
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.length).toBe(before);
  });

  it('serves anonymous functions without a key and sends their headers and text body', async () => {
    const answer = await fetch(`${host.url}/api/ping`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-kvguard')).toBe('yes');
    expect(await answer.text()).toBe('pong');
  });

  it('answers 404 for an unknown route and, like the Functions host, for a known route with another method', async () => {
    const unknown = await fetch(`${host.url}/api/nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await unknown.json()).toEqual({
      error: {
        code: 'NotFound',
        message: 'no function answers GET /api/nope',
        requestId: unknown.headers.get('x-request-id'),
      },
    });
    expect((await fetch(`${host.url}/api/restore/a/extra`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${host.url}/api/ping`, { method: 'DELETE' })).status).toBe(404);
    const elsewhere = await fetch(`${host.url}/somewhere`);
    expect(elsewhere.status).toBe(404);
    expect(((await elsewhere.json()) as { error: { code: string } }).error.code).toBe('NotFound');
  });

  it('answers 500 with an empty body when a handler throws, logs the failure and keeps serving', async () => {
    const answer = await fetch(`${host.url}/api/broken`);
    expect(answer.status).toBe(500);
    expect(await answer.text()).toBe('');
    expect(logs.some((r) => r.level === 'error' && r.function === 'broken')).toBe(true);
    expect((await fetch(`${host.url}/api/ping`)).status).toBe(200);
  });

  it('writes function logs as records tagged with the function and invocation id, and never logs bodies', () => {
    const record = logs.find((r) => r.category === 'function' && r.function === 'restoreOne');
    expect(record).toMatchObject({ level: 'information', message: 'restoring key-1' });
    expect(record?.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(logs)).not.toContain('objects');
  });

  it('guards the admin API with the master key only', async () => {
    const withFunctionKey = await fetch(`${host.url}/admin/functions/nightly`, {
      method: 'POST',
      headers: { 'x-functions-key': host.functionKey },
      body: '{}',
    });
    expect(withFunctionKey.status).toBe(401);
    const unknown = await fetch(`${host.url}/admin/functions/nothing`, {
      method: 'POST',
      headers: { 'x-functions-key': host.masterKey },
      body: '{}',
    });
    expect(unknown.status).toBe(404);
    const status = await fetch(`${host.url}/admin/host/status`, { headers: { 'x-functions-key': host.masterKey } });
    expect(await status.json()).toMatchObject({ state: 'Running' });
  });
});

describe('dev host: route templates', () => {
  it('matches parameters, optional and catch-all segments and constraints like ASP.NET Core routing', () => {
    expect(parseRouteTemplate('restore/{id}').match('Restore/abc%20d')).toEqual({ id: 'abc d' });
    expect(parseRouteTemplate('backups/{vault?}').match('backups')).toEqual({});
    expect(parseRouteTemplate('backups/{vault?}').match('backups/demo')).toEqual({ vault: 'demo' });
    expect(parseRouteTemplate('files/{*path}').match('files/a/b/c')).toEqual({ path: 'a/b/c' });
    expect(parseRouteTemplate('jobs/{id:int}').match('jobs/12')).toEqual({ id: '12' });
    expect(parseRouteTemplate('jobs/{id:int}').match('jobs/abc')).toBeUndefined();
    expect(parseRouteTemplate('restore/{id}').match('restore')).toBeUndefined();
    expect(parseRouteTemplate('restore/{id}').match('restore/a/b')).toBeUndefined();
  });
});
