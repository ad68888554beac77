import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdkClients, startTestEmulator, type TestEmulator } from '../../support/emulator';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  events: { eventType: string; subject: string; topic: string; data: Record<string, unknown> }[];
}

const DAY_MS = 24 * 3600 * 1000;

async function eventually<T>(probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('emulator: Event Grid events like Key Vault', () => {
  let emulator: TestEmulator;
  let receiver: Server;
  const received: Received[] = [];
  const ofType = (type: string, subject: string) =>
    received
      .flatMap((batch) => batch.events.map((event) => ({ ...event, headers: batch.headers })))
      .find((event) => event.eventType === type && event.subject === subject);

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ headers: req.headers, events: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    emulator = await startTestEmulator({
      vaults: [{ name: 'evented' }],
      subscriptionId: '11111111-2222-3333-4444-555555555555',
      resourceGroup: 'rg-test',
    });
    emulator.addEventSubscription('Evented', `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/events`);
  });
  afterAll(async () => {
    await emulator.stop();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('posts KeyNewVersionCreated in the Event Grid schema when a key version is created', async () => {
    const key = await sdkClients(emulator.url, emulator.caCertPem).keys.createEcKey('evented-key');
    const event = await eventually(() => ofType('Microsoft.KeyVault.KeyNewVersionCreated', 'evented-key'));
    expect(event.headers['aeg-event-type']).toBe('Notification');
    expect(event.topic).toBe(
      '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-test/providers/Microsoft.KeyVault/vaults/evented',
    );
    expect(event.data).toEqual({
      Id: key.id,
      VaultName: 'evented',
      ObjectType: 'Key',
      ObjectName: 'evented-key',
      Version: key.properties.version,
      NBF: null,
      EXP: null,
    });
  });

  it('posts SecretNewVersionCreated and CertificateNewVersionCreated', async () => {
    const { secrets, certificates } = sdkClients(emulator.url, emulator.caCertPem);
    await secrets.setSecret('evented-secret', 'x');
    await (
      await certificates.beginCreateCertificate(
        'evented-cert',
        { issuerName: 'Self', subject: 'CN=e' },
        { intervalInMs: 10 },
      )
    ).pollUntilDone();
    await eventually(() => ofType('Microsoft.KeyVault.SecretNewVersionCreated', 'evented-secret'));
    const certificateEvent = await eventually(() =>
      ofType('Microsoft.KeyVault.CertificateNewVersionCreated', 'evented-cert'),
    );
    expect(certificateEvent.data['ObjectType']).toBe('Certificate');
    expect(typeof certificateEvent.data['EXP']).toBe('number');
  });

  it('posts NearExpiry 30 days before exp and Expired at exp on the emulator clock, once each', async () => {
    const expiresOn = new Date(Math.floor((emulator.clock.now().getTime() + 40 * DAY_MS) / 1000) * 1000);
    const secret = await sdkClients(emulator.url, emulator.caCertPem).secrets.setSecret('expiring', 'x', { expiresOn });
    emulator.clock.advance(5 * DAY_MS);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ofType('Microsoft.KeyVault.SecretNearExpiry', 'expiring')).toBeUndefined();

    emulator.clock.advance(6 * DAY_MS);
    const near = await eventually(() => ofType('Microsoft.KeyVault.SecretNearExpiry', 'expiring'));
    expect(near.data).toMatchObject({ Version: secret.properties.version, EXP: expiresOn.getTime() / 1000 });
    expect(ofType('Microsoft.KeyVault.SecretExpired', 'expiring')).toBeUndefined();

    emulator.clock.advance(30 * DAY_MS);
    await eventually(() => ofType('Microsoft.KeyVault.SecretExpired', 'expiring'));
    emulator.clock.advance(DAY_MS);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const count = received.flatMap((batch) => batch.events).filter((event) => event.subject === 'expiring').length;
    expect(count).toBe(3); // NewVersionCreated, NearExpiry, Expired
  });
});
