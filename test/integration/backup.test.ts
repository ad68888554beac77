import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupSettings, useServices, type Services } from '../../src/composition';
import { createServices } from '../../src/composition-adapters';
import { loadConfig } from '../../src/config';
import { backupVaultNow } from '../../src/core/backup/runs';
import { silentLogger } from '../../src/core/ports';
import { functionDefinitions } from '../../src/functions';
import { startDevHost, type RunningDevHost } from '../../dev/host';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { sdkClients, startTestEmulator, type TestEmulator } from '../support/emulator';

const KEYS = 120;
const SECRETS = 100;
const CERTIFICATES = 6;
const TOTAL = KEYS + SECRETS + CERTIFICATES;

let emulator: TestEmulator;
let azurite: TestAzurite;
let services: Services;
let settings: Record<string, string>;
let clients: ReturnType<typeof sdkClients>;

async function inBatches(count: number, work: (i: number) => Promise<unknown>, size = 20): Promise<void> {
  for (let start = 0; start < count; start += size) {
    await Promise.all(Array.from({ length: Math.min(size, count - start) }, (_, i) => work(start + i)));
  }
}

beforeAll(async () => {
  [emulator, azurite] = await Promise.all([
    startTestEmulator({ vaults: [{ name: 'main' }, { name: 'locked' }, { name: 'queued' }] }),
    startTestAzurite(),
  ]);
  const [main, locked, queued] = emulator.vaults;
  settings = {
    KVGUARD_VAULTS: JSON.stringify([
      { url: main!.url, name: 'main' },
      { url: locked!.url, name: 'locked' },
      { url: queued!.url, name: 'queued' },
    ]),
    KVGUARD_STORAGE: azurite.connectionString,
    KVGUARD_CONTAINER: uniqueStorageName('backups'),
    KVGUARD_STATE_CONTAINER: uniqueStorageName('state'),
    KVGUARD_BACKUP_QUEUE: uniqueStorageName('jobs'),
    KVGUARD_CREDENTIAL: 'emulator',
    KVGUARD_KEYVAULT_CA_CERT: emulator.caCertPath,
    KVGUARD_PAGE_SIZE: '10',
    KVGUARD_REQUIRE_PRINCIPAL: 'false',
  };
  services = createServices(loadConfig(settings), silentLogger);
  clients = sdkClients(main!.url, emulator.caCertPem);
  await inBatches(KEYS, (i) =>
    clients.keys.createRsaKey(`key-${i}`, { keySize: 2048, tags: i % 10 === 0 ? { kvguard: 'critical' } : {} }),
  );
  await inBatches(SECRETS, (i) => clients.secrets.setSecret(`secret-${i}`, `value-${i}`));
  await inBatches(
    CERTIFICATES,
    async (i) => {
      const poller = await clients.certificates.beginCreateCertificate(
        `cert-${i}`,
        { issuerName: 'Self', subject: `CN=cert-${i}` },
        { intervalInMs: 50 },
      );
      await poller.pollUntilDone();
    },
    3,
  );
}, 300_000); // 226 objects (120 RSA keys) on a shared 2-core machine: seeding alone can take minutes under load.

afterAll(async () => {
  useServices(undefined);
  await Promise.all([emulator?.stop(), azurite?.stop()]);
});

const target = (name: string) => services.config.vaults.find((v) => v.name === name)!;

describe('scheduled backups against the Key Vault emulator and Azurite', () => {
  it('backs up every key, secret and certificate of a vault over many pages', async () => {
    const run = await backupVaultNow(target('main'), services, backupSettings(services.config));
    expect(run).toMatchObject({ complete: true, succeeded: true, stats: { stored: TOTAL, unchanged: 0, failed: 0 } });
    expect(run.summaryBlob).toMatch(/^runs\/main\//);
    const records = [];
    for await (const record of services.store.listBackups({ vault: 'main' })) records.push(record);
    expect(records).toHaveLength(TOTAL);
    // Certificates carry their managed key and secret: neither is stored on its own.
    expect(records.filter((r) => r.name.startsWith('cert-')).map((r) => r.type)).toEqual(
      Array(CERTIFICATES).fill('certificate'),
    );
  });

  it('stores the exact bytes Key Vault returned, with the SHA-256 the catalog records', async () => {
    const latest = await services.store.latestBackup('main', 'secret', 'secret-7');
    const { bytes, record } = await services.store.readBackup(latest!.blobName);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(record.sha256);
    // The opaque blob restores: proof the bytes are Key Vault's own.
    await clients.secrets.beginDeleteSecret('secret-7').then((p) => p.pollUntilDone());
    await clients.secrets.purgeDeletedSecret('secret-7');
    await expect
      .poll(
        async () =>
          clients.secrets.restoreSecretBackup(bytes).then(
            () => 'restored',
            (e: { statusCode?: number }) => e.statusCode,
          ),
        { timeout: 30_000, interval: 100 },
      )
      .toBe('restored');
  });

  it('stores nothing new on a second run, and only the key that changed after a new version', async () => {
    const second = await backupVaultNow(target('main'), services, backupSettings(services.config));
    expect(second.stats).toMatchObject({ stored: 0, unchanged: TOTAL, failed: 0 });

    await clients.keys.createRsaKey('key-42', { keySize: 2048 });
    const third = await backupVaultNow(target('main'), services, backupSettings(services.config));
    expect(third.stats).toMatchObject({ stored: 1, unchanged: TOTAL - 1 });
    expect(third.manifests.length).toBeGreaterThan(3);
  });

  it('finds the backup as of a time between two runs', async () => {
    const history = [];
    for await (const record of services.store.listBackups({ vault: 'main', type: 'key', name: 'key-42' }))
      history.push(record);
    expect(history.map((r) => r.versionCount)).toEqual([2, 1]);
    const [newer, older] = history;
    const between = new Date((older!.takenAt.getTime() + newer!.takenAt.getTime()) / 2);
    expect((await services.store.latestBackup('main', 'key', 'KEY-42', between))?.blobName).toBe(older!.blobName);
    expect((await services.store.latestBackup('main', 'key', 'key-42', newer!.takenAt))?.blobName).toBe(
      newer!.blobName,
    );
    expect(
      await services.store.latestBackup('main', 'key', 'key-42', new Date(older!.takenAt.getTime() - 1)),
    ).toBeUndefined();
  });

  it('completes a full run through injected 429s (with and without Retry-After), 503s and connection resets', async () => {
    emulator.configure(
      { throttle: { retryAfter: 0.5 }, faults: { seed: 7, rate429: 0.04, rate503: 0.04, rateReset: 0.03 } },
      'main',
    );
    try {
      const run = await backupVaultNow(
        { ...target('main'), types: ['secret'] },
        services,
        backupSettings(services.config),
        { full: true },
      );
      expect(run).toMatchObject({ succeeded: true, stats: { stored: SECRETS, failed: 0 } });
      expect(run.stats.throttled).toBeGreaterThan(0);
    } finally {
      emulator.configure({ faults: null, throttle: { retryAfter: 'always' } }, 'main');
    }
  });

  it('refuses a second write to an existing blob name and keeps the first content', async () => {
    const existing = await services.store.latestBackup('main', 'key', 'key-1');
    const { blobName: _ignored, ...record } = existing!;
    await expect(services.store.putBackup(record, new Uint8Array([1, 2, 3]))).rejects.toMatchObject({
      code: expect.stringMatching(/AlreadyExists|IntegrityError/),
    });
    const sameSize = { ...record, sha256: createHash('sha256').update(Buffer.alloc(record.size)).digest('hex') };
    await expect(services.store.putBackup(sameSize, new Uint8Array(record.size))).rejects.toMatchObject({
      code: 'AlreadyExists',
    });
    const { record: after } = await services.store.readBackup(existing!.blobName);
    expect(after.sha256).toBe(existing!.sha256);
  });

  it('reports a vault that answers 403 while the others complete', async () => {
    emulator.configure({ faults: { forbidden: true } }, 'locked');
    const locked = await backupVaultNow(target('locked'), services, backupSettings(services.config));
    expect(locked).toMatchObject({ succeeded: false, errors: [expect.objectContaining({ code: 'Forbidden' })] });
    const main = await backupVaultNow(
      { ...target('main'), types: ['certificate'] },
      services,
      backupSettings(services.config),
    );
    expect(main).toMatchObject({ succeeded: true, stats: { unchanged: CERTIFICATES } });
  });
});

describe('the functions: timer fan-out, queue chunks, status', () => {
  let host: RunningDevHost;

  beforeAll(async () => {
    const queued = sdkClients(emulator.vaults[2]!.url, emulator.caCertPem);
    await inBatches(35, (i) => queued.keys.createEcKey(`ec-${i}`, { curve: 'P-256' }));
    host = await startDevHost({
      definitions: functionDefinitions,
      settings: { ...settings, KVGUARD_VAULTS: JSON.stringify([{ url: emulator.vaults[2]!.url, name: 'queued' }]) },
      queuePollMs: 100,
      logSink: () => {},
    });
  });

  afterAll(async () => {
    await host?.stop();
  });

  it('backs a vault up through the timer, one queue job per page, and status reports the run', async () => {
    const before = await fetch(`${host.url}/api/status?vault=queued`, {
      headers: { 'x-functions-key': host.functionKey },
    });
    expect(await before.json()).toMatchObject({ vaults: [{ vault: 'queued', rpoBreached: true }] });

    await host.runTimer('scheduleBackups');
    await host.idle();

    const response = await fetch(`${host.url}/api/status`, { headers: { 'x-functions-key': host.functionKey } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      vaults: { vault: string; rpoBreached: boolean; counts: unknown; lastRun: { complete: boolean } }[];
    };
    expect(body.vaults).toEqual([
      expect.objectContaining({
        vault: 'queued',
        rpoBreached: false,
        counts: { stored: 35, unchanged: 0, failed: 0 },
        lastRun: expect.objectContaining({ complete: true }),
      }),
    ]);
  });

  it('answers 400 naming the parameter for an unknown vault, and 401 without the function key', async () => {
    const bad = await fetch(`${host.url}/api/status?vault=nope`, { headers: { 'x-functions-key': host.functionKey } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'ValidationError', field: 'vault' } });
    const unknown = await fetch(`${host.url}/api/status?vualt=main`, {
      headers: { 'x-functions-key': host.functionKey },
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: 'ValidationError', field: 'vualt' } });
    expect((await fetch(`${host.url}/api/status`)).status).toBe(401);
  });
});
