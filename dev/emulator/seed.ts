/** Demo content for `npm start`: a few keys, secrets and certificates created through the unchanged SDK clients. */
import { emulatorSdkClients } from './clients';

const DAY_MS = 24 * 3600 * 1000;

/**
 * Seeds a demo vault: RSA and EC keys (one with two versions, one tagged `kvguard=critical`), secrets and
 * self-signed certificates. A vault that already holds keys (state persisted from an earlier run) is left as it is.
 * @param vaultUrl - the vault's URL (https://localhost:<port>/)
 * @param caCertPem - the emulator CA the clients must trust
 */
export async function seedDemoVault(vaultUrl: string, caCertPem: string): Promise<void> {
  const { keys, secrets, certificates } = emulatorSdkClients(vaultUrl, caCertPem);
  for await (const existing of keys.listPropertiesOfKeys()) if (existing) return;

  await keys.createRsaKey('demo-rsa', { keySize: 2048, tags: { kvguard: 'critical', owner: 'payments' } });
  await keys.createEcKey('demo-ec', { curve: 'P-256', tags: { owner: 'signing' } });
  await keys.createEcKey('demo-ec', { curve: 'P-256', tags: { owner: 'signing', rotated: 'true' } });
  await keys.createRsaKey('demo-expiring', { keySize: 2048, expiresOn: new Date(Date.now() + 20 * DAY_MS) });

  await secrets.setSecret('demo-db-password', 'demo-only-value-1', { contentType: 'text/plain' });
  await secrets.setSecret('demo-db-password', 'demo-only-value-2', { contentType: 'text/plain' });
  await secrets.setSecret('demo-api-token', 'demo-only-token', { tags: { kvguard: 'critical' } });

  const pollOptions = { intervalInMs: 50 };
  const rsaCertificate = await certificates.beginCreateCertificate(
    'demo-tls',
    {
      issuerName: 'Self',
      subject: 'CN=demo.kvguard.local',
      subjectAlternativeNames: { dnsNames: ['demo.kvguard.local'] },
    },
    pollOptions,
  );
  const ecCertificate = await certificates.beginCreateCertificate(
    'demo-signing',
    {
      issuerName: 'Self',
      subject: 'CN=kvguard demo signing',
      keyType: 'EC',
      keyCurveName: 'P-256',
      validityInMonths: 6,
    },
    pollOptions,
  );
  await Promise.all([rsaCertificate.pollUntilDone(), ecCertificate.pollUntilDone()]);
}

/**
 * Creates the key-encryption key of portable exports (RSA 3072, wrapKey/unwrapKey only) unless the vault has it.
 * @param vaultUrl - the KEK vault's URL
 * @param caCertPem - the emulator CA the clients must trust
 * @param name - the key's name
 */
export async function seedKek(vaultUrl: string, caCertPem: string, name: string): Promise<void> {
  const { keys } = emulatorSdkClients(vaultUrl, caCertPem);
  for await (const existing of keys.listPropertiesOfKeys()) if (existing.name === name) return;
  await keys.createRsaKey(name, { keySize: 3072, keyOps: ['wrapKey', 'unwrapKey'], tags: { purpose: 'kvguard-kek' } });
}
