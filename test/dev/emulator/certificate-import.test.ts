import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPkcs12 } from '../../../dev/emulator/pkcs12';
import { sdkClients, startTestEmulator, type TestEmulator } from '../../support/emulator';

const POLL = { intervalInMs: 10 };

describe('emulator: certificate import and non-exportable keys through the unchanged SDK', () => {
  let emulator: TestEmulator;
  let source: ReturnType<typeof sdkClients>;
  let target: ReturnType<typeof sdkClients>;

  beforeAll(async () => {
    emulator = await startTestEmulator({ vaults: [{ name: 'source' }, { name: 'target' }] });
    source = sdkClients(emulator.vaults[0]!.url, emulator.caCertPem);
    target = sdkClients(emulator.vaults[1]!.url, emulator.caCertPem);
  });
  afterAll(() => emulator.stop());

  it.each([
    ['application/x-pkcs12' as const, 'pfx'],
    ['application/x-pem-file' as const, 'pem'],
  ])(
    'imports a certificate from its %s secret as a new version with its managed key and secret',
    async (contentType, name) => {
      const policy = { issuerName: 'Self', subject: `CN=${name}.example`, contentType };
      const created = await (await source.certificates.beginCreateCertificate(name, policy, POLL)).pollUntilDone();
      const secret = await source.secrets.getSecret(name);
      const bytes =
        contentType === 'application/x-pem-file' ? Buffer.from(secret.value!) : Buffer.from(secret.value!, 'base64');
      const imported = await target.certificates.importCertificate(name, bytes, { policy, tags: { from: 'source' } });
      expect(Buffer.from(imported.cer!)).toEqual(Buffer.from(created.cer!));
      expect(imported.properties.tags).toEqual({ from: 'source' });
      expect(imported.properties.expiresOn).toEqual(new Date(new X509Certificate(Buffer.from(created.cer!)).validTo));
      const [key, managed] = await Promise.all([target.keys.getKey(name), target.secrets.getSecret(name)]);
      expect(key.properties.version).toBe(imported.properties.version);
      expect(managed.properties.contentType).toBe(contentType);
      // The managed secret carries the same certificate (a PKCS#12 file is built anew, with its own MAC salt).
      const certificateOf = async (value: string) =>
        contentType === 'application/x-pem-file'
          ? /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(value)![0]
          : (await readPkcs12(Buffer.from(value, 'base64'))).certificateDer.toString('base64');
      expect(await certificateOf(managed.value!)).toBe(await certificateOf(secret.value!));
      expect(managed.value).toMatch(contentType === 'application/x-pem-file' ? /PRIVATE KEY/ : /./);
      const again = await target.certificates.importCertificate(name, bytes, { policy });
      expect(again.properties.version).not.toBe(imported.properties.version);
    },
  );

  it("keeps the private key out of a non-exportable certificate's secret, and refuses to import it", async () => {
    const policy = { issuerName: 'Self', subject: 'CN=locked', exportable: false };
    await (await source.certificates.beginCreateCertificate('locked', policy, POLL)).pollUntilDone();
    const secret = await source.secrets.getSecret('locked');
    await expect(
      target.certificates.importCertificate('locked', Buffer.from(secret.value!, 'base64'), {
        policy: { issuerName: 'Self', subject: 'CN=locked' },
      }),
    ).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('Private key is not specified') });
  });
});
