import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FunctionDefinition } from '../../../src/functions/definition';
import { startDevHost, type RunningDevHost } from '../../../dev/host';

const keyEvent = (id: string) => ({
  id,
  topic: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/demo',
  subject: 'signing-key',
  eventType: 'Microsoft.KeyVault.KeyNewVersionCreated',
  eventTime: '2025-01-01T00:00:00Z',
  dataVersion: '1',
  data: {
    Id: 'https://demo.vault.azure.net/keys/signing-key/abc',
    VaultName: 'demo',
    ObjectType: 'Key',
    ObjectName: 'signing-key',
  },
});

const cloudEvent = (id: string) => ({
  specversion: '1.0',
  id,
  source: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/demo',
  type: 'Microsoft.KeyVault.SecretNewVersionCreated',
  subject: 'db-password',
  data: { Id: 'https://demo.vault.azure.net/secrets/db-password/v1', ObjectName: 'db-password' },
});

describe('dev host: Event Grid webhook', () => {
  let host: RunningDevHost;
  let received: { id: string; functionName: string }[] = [];
  let failIds = new Set<string>();

  const definitions: FunctionDefinition[] = [
    {
      trigger: 'eventGrid',
      name: 'vaultEvents',
      handler: async (event, context) => {
        const id = (event as { id: string }).id;
        received.push({ id, functionName: context.functionName });
        if (failIds.has(id)) throw new Error(`cannot handle ${id}`);
      },
    },
    {
      trigger: 'http',
      name: 'status',
      route: 'status',
      methods: ['GET'],
      authLevel: 'function',
      handler: async () => ({}),
    },
  ];

  const webhook = (name = 'vaultEvents', query = '') =>
    `${host.url}/runtime/webhooks/eventgrid?functionName=${name}${query}`;

  beforeAll(async () => {
    host = await startDevHost({ definitions, settings: {}, logSink: () => undefined });
  });
  afterAll(() => host?.stop());
  beforeEach(() => {
    received = [];
    failIds = new Set();
  });

  it('invokes the function once per event of an Event Grid schema array and answers 202', async () => {
    const answer = await fetch(webhook(), {
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
      body: JSON.stringify([keyEvent('e1'), keyEvent('e2'), keyEvent('e3')]),
    });
    expect(answer.status).toBe(202);
    expect(received.map((r) => r.id).sort()).toEqual(['e1', 'e2', 'e3']);
    expect(received.every((r) => r.functionName === 'vaultEvents')).toBe(true);
  });

  it('answers the SubscriptionValidation handshake with the validation code and invokes nothing', async () => {
    const answer = await fetch(webhook(), {
      method: 'POST',
      headers: { 'aeg-event-type': 'SubscriptionValidation', 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          id: 'v',
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          data: { validationCode: 'CODE-123' },
          dataVersion: '2',
        },
      ]),
    });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ validationResponse: 'CODE-123' });
    expect(received).toEqual([]);
  });

  it('invokes once for a single CloudEvent and once per event of a CloudEvents batch', async () => {
    const single = await fetch(webhook(), {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
      body: JSON.stringify(cloudEvent('c1')),
    });
    const batch = await fetch(webhook(), {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', 'aeg-event-type': 'Notification' },
      body: JSON.stringify([cloudEvent('c2'), cloudEvent('c3')]),
    });
    expect([single.status, batch.status]).toEqual([202, 202]);
    expect(received.map((r) => r.id).sort()).toEqual(['c1', 'c2', 'c3']);
  });

  it('answers the CloudEvents abuse-protection handshake (OPTIONS) with WebHook-Allowed-Origin', async () => {
    const answer = await fetch(webhook(), {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  it('answers 500 when an invocation fails, so Event Grid redelivers, without the error text', async () => {
    failIds.add('bad');
    const answer = await fetch(webhook(), {
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification' },
      body: JSON.stringify([keyEvent('ok'), keyEvent('bad')]),
    });
    expect(answer.status).toBe(500);
    expect(await answer.text()).not.toContain('cannot handle');
    expect(received.map((r) => r.id).sort()).toEqual(['bad', 'ok']);
  });

  it('answers 404 for an unknown function or one that is not Event Grid-triggered', async () => {
    for (const name of ['nothing', 'status']) {
      const answer = await fetch(webhook(name), {
        method: 'POST',
        headers: { 'aeg-event-type': 'Notification' },
        body: '[]',
      });
      expect(answer.status).toBe(404);
      expect(await answer.text()).toBe(`cannot find function: '${name}'`);
    }
  });

  it('answers 400 for a delivery without an event type or with a body that is not JSON', async () => {
    const noType = await fetch(webhook(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[]',
    });
    const notJson = await fetch(webhook(), {
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification' },
      body: '{oops',
    });
    expect([noType.status, notJson.status]).toEqual([400, 400]);
    expect(received).toEqual([]);
  });

  it('needs no key locally, but refuses a code that is not a host key', async () => {
    const body = JSON.stringify([keyEvent('k1')]);
    const headers = { 'aeg-event-type': 'Notification' };
    const wrong = await fetch(webhook('vaultEvents', '&code=wrong'), { method: 'POST', headers, body });
    const right = await fetch(webhook('vaultEvents', `&code=${encodeURIComponent(host.functionKey)}`), {
      method: 'POST',
      headers,
      body,
    });
    expect([wrong.status, right.status]).toEqual([401, 202]);
    expect(received.map((r) => r.id)).toEqual(['k1']);
  });

  it('runs an Event Grid function from the admin API with the input as the event', async () => {
    const answer = await fetch(`${host.url}/admin/functions/vaultEvents`, {
      method: 'POST',
      headers: { 'x-functions-key': host.masterKey, 'content-type': 'application/json' },
      body: JSON.stringify({ input: JSON.stringify(keyEvent('admin-1')) }),
    });
    expect(answer.status).toBe(202);
    await host.idle();
    expect(received.map((r) => r.id)).toEqual(['admin-1']);
  });
});
