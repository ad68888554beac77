import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupSettings, type Services } from '../../src/composition';
import { createServices } from '../../src/composition-adapters';
import { loadConfig } from '../../src/config';
import { backupVaultNow } from '../../src/core/backup/runs';
import { silentLogger } from '../../src/core/ports';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { sdkClients, startTestEmulator, type TestEmulator } from '../support/emulator';

let emulator: TestEmulator;
let azurite: TestAzurite;
let services: Services;
let clients: ReturnType<typeof sdkClients>;

beforeAll(async () => {
  [emulator, azurite] = await Promise.all([startTestEmulator({ vaults: [{ name: 'policies' }] }), startTestAzurite()]);
  const vault = emulator.vaults[0]!;
  services = createServices(
    loadConfig({
      KVGUARD_VAULTS: JSON.stringify([{ url: vault.url, name: 'policies', types: ['certificate'] }]),
      KVGUARD_STORAGE: azurite.connectionString,
      KVGUARD_CONTAINER: uniqueStorageName('backups'),
      KVGUARD_STATE_CONTAINER: uniqueStorageName('state'),
      KVGUARD_CREDENTIAL: 'emulator',
      KVGUARD_KEYVAULT_CA_CERT: emulator.caCertPath,
      KVGUARD_REQUIRE_PRINCIPAL: 'false',
    }),
    silentLogger,
  );
  clients = sdkClients(vault.url, emulator.caCertPem);
  const poller = await clients.certificates.beginCreateCertificate(
    'web-tls',
    { issuerName: 'Self', subject: 'CN=web-tls', validityInMonths: 12 },
    { intervalInMs: 50 },
  );
  await poller.pollUntilDone();
}, 120_000);

afterAll(async () => {
  await Promise.all([emulator?.stop(), azurite?.stop()]);
});

describe('certificate policy changes against the Key Vault emulator', () => {
  it('stores a new backup after a policy update, though no certificate version changed', async () => {
    const target = services.config.vaults[0]!;
    const settings = backupSettings(services.config);
    expect((await backupVaultNow(target, services, settings)).stats).toMatchObject({ stored: 1, failed: 0 });
    expect((await backupVaultNow(target, services, settings)).stats).toMatchObject({ stored: 0, unchanged: 1 });

    const versionsBefore = [];
    for await (const v of clients.certificates.listPropertiesOfCertificateVersions('web-tls')) versionsBefore.push(v);
    await clients.certificates.updateCertificatePolicy('web-tls', {
      issuerName: 'Self',
      subject: 'CN=web-tls-renewed',
      validityInMonths: 6,
    });
    const versionsAfter = [];
    for await (const v of clients.certificates.listPropertiesOfCertificateVersions('web-tls')) versionsAfter.push(v);
    expect(versionsAfter.map((v) => v.updatedOn?.getTime())).toEqual(versionsBefore.map((v) => v.updatedOn?.getTime()));

    const afterUpdate = await backupVaultNow(target, services, settings);
    expect(afterUpdate.stats).toMatchObject({ stored: 1, unchanged: 0, failed: 0 });
    const stored = [];
    for await (const r of services.store.listBackups({ vault: 'policies', type: 'certificate', name: 'web-tls' }))
      stored.push(r);
    expect(new Set(stored.map((r) => r.fingerprint)).size).toBe(2);
  });
});
