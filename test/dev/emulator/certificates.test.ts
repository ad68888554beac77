import { X509Certificate, createHash } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, sdkClients, startTestEmulator, type TestEmulator } from '../../support/emulator';

const POLL = { intervalInMs: 10 };
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('emulator: certificates through the unchanged SDK', () => {
  let emulator: TestEmulator;
  let clients: ReturnType<typeof sdkClients>;

  beforeAll(async () => {
    emulator = await startTestEmulator({ pendingMs: 50 });
    clients = sdkClients(emulator.url, emulator.caCertPem);
  });
  afterAll(() => emulator.stop());

  it('creates a self-signed certificate through a pending operation, with a managed key and secret', async () => {
    const { certificates, keys, secrets } = clients;
    emulator.configure({ pendingMs: 400 });
    const poller = await certificates.beginCreateCertificate(
      'web',
      { issuerName: 'Self', subject: 'CN=web.example', subjectAlternativeNames: { dnsNames: ['web.example'] } },
      POLL,
    );
    emulator.configure({ pendingMs: 50 });
    const pending = await certificates.getCertificateOperation('web');
    expect(pending.getOperationState().certificateOperation?.status).toBe('inProgress');
    const inProgress = await certificates.getCertificate('web');
    expect(inProgress.properties.enabled).toBe(false);
    expect(inProgress.cer).toBeUndefined();
    const listed: string[] = [];
    for await (const properties of certificates.listPropertiesOfCertificates()) listed.push(properties.name!);
    expect(listed).not.toContain('web');
    const certificate = await poller.pollUntilDone();

    const x509 = new X509Certificate(Buffer.from(certificate.cer!));
    expect(x509.subject).toBe('CN=web.example');
    expect(x509.subjectAltName).toContain('DNS:web.example');
    expect(Buffer.from(certificate.properties.x509Thumbprint!)).toEqual(createHash('sha1').update(x509.raw).digest());
    expect(certificate.keyId).toBe(`${emulator.url}keys/web/${certificate.properties.version}`);
    expect(certificate.secretId).toBe(`${emulator.url}secrets/web/${certificate.properties.version}`);
    expect(certificate.properties.expiresOn?.getTime()).toBe(
      Math.floor(new Date(x509.validTo).getTime() / 1000) * 1000,
    );

    const managedKey = await keys.getKey('web');
    expect(managedKey.properties.managed).toBe(true);
    const managedSecret = await secrets.getSecret('web');
    expect(managedSecret.properties.managed).toBe(true);
    expect(managedSecret.properties.certificateKeyId).toBe(certificate.keyId);
    // Like the service: PKCS#12 unless the policy asks for PEM; a TLS stack takes it as it is, without a password.
    expect(managedSecret.properties.contentType).toBe('application/x-pkcs12');
    expect(() => createSecureContext({ pfx: Buffer.from(managedSecret.value!, 'base64') })).not.toThrow();

    const operation = await certificates.getCertificateOperation('web');
    expect(operation.getOperationState().certificateOperation?.status).toBe('completed');
    expect((await certificates.getCertificatePolicy('web')).subject).toBe('CN=web.example');
  });

  it('issues EC certificates and lists certificates and their versions', async () => {
    const { certificates } = clients;
    const ecPolicy = {
      issuerName: 'Self',
      subject: 'CN=signer',
      keyType: 'EC' as const,
      keyCurveName: 'P-256' as const,
    };
    await (await certificates.beginCreateCertificate('signer', ecPolicy, POLL)).pollUntilDone();
    await (await certificates.beginCreateCertificate('signer', ecPolicy, POLL)).pollUntilDone();
    const versions: string[] = [];
    for await (const properties of certificates.listPropertiesOfCertificateVersions('signer'))
      versions.push(properties.version!);
    expect(versions).toHaveLength(2);
    const names: string[] = [];
    for await (const properties of certificates.listPropertiesOfCertificates()) names.push(properties.name!);
    expect(names).toContain('signer');
    expect(
      new X509Certificate(Buffer.from((await certificates.getCertificate('signer')).cer!)).publicKey.asymmetricKeyType,
    ).toBe('ec');
  });

  it('backs up, deletes, purges and restores a certificate with its key and secret', async () => {
    const { certificates, keys, secrets } = clients;
    const created = await (
      await certificates.beginCreateCertificate('restore-me', { issuerName: 'Self', subject: 'CN=r' }, POLL)
    ).pollUntilDone();
    const backup = await certificates.backupCertificate('restore-me');

    await (await certificates.beginDeleteCertificate('restore-me', POLL)).pollUntilDone();
    expect((await keys.getDeletedKey('restore-me')).properties.managed).toBe(true);
    await expect(certificates.restoreCertificateBackup(backup!)).rejects.toMatchObject({ statusCode: 409 });

    await certificates.purgeDeletedCertificate('restore-me');
    await wait(200);
    await expect(secrets.getDeletedSecret('restore-me')).rejects.toMatchObject({ statusCode: 404 });
    const restored = await certificates.restoreCertificateBackup(backup!);

    expect(restored.properties.id).toBe(created.properties.id);
    expect(restored.properties.createdOn).toEqual(created.properties.createdOn);
    expect(Buffer.from(restored.cer!)).toEqual(Buffer.from(created.cer!));
    expect((await keys.getKey('restore-me')).id).toBe(created.keyId);
    expect((await secrets.getSecret('restore-me')).properties.id).toBe(created.secretId);
  });

  it('recovers a deleted certificate together with its managed key', async () => {
    const { certificates, keys } = clients;
    await (
      await certificates.beginCreateCertificate('comeback', { issuerName: 'Self', subject: 'CN=c' }, POLL)
    ).pollUntilDone();
    await (await certificates.beginDeleteCertificate('comeback', POLL)).pollUntilDone();
    await (await certificates.beginRecoverDeletedCertificate('comeback', POLL)).pollUntilDone();
    await wait(100);
    expect((await keys.getKey('comeback')).properties.managed).toBe(true);
  });

  it('answers a create like the service: lower-case subject, Location and Retry-After, policy defaults, pending id', async () => {
    emulator.configure({ pendingMs: 300 });
    // The body the SDK 4.10 sends for `{ issuerName: 'Self', subject: 'cn=MyCert' }` (recorded, 2025-07-01).
    const body = JSON.stringify({
      policy: {
        key_props: {},
        secret_props: {},
        x509_props: { subject: 'cn=MyCert', sans: {} },
        issuer: { name: 'Self' },
        attributes: {},
      },
      attributes: {},
    });
    const created = await rawRequest(
      emulator.url,
      emulator.caCertPem,
      '/certificates/lower/create?api-version=2025-07-01',
      {
        method: 'POST',
        body,
      },
    );
    expect(created.status).toBe(202);
    const operation = created.body as { id: string; request_id: string; status: string };
    expect(operation.status).toBe('inProgress');
    expect(created.headers['location']).toBe(
      `${emulator.url}certificates/lower/pending?api-version=2025-07-01&request_id=${operation.request_id}`,
    );
    expect(created.headers['retry-after']).toBe('10');
    emulator.configure({ pendingMs: 50 });
    const certificate = await (await clients.certificates.getCertificateOperation('lower', POLL)).pollUntilDone();
    expect(new X509Certificate(Buffer.from(certificate.cer!)).subject).toBe('CN=MyCert');

    const bundle = (await rawRequest(emulator.url, emulator.caCertPem, '/certificates/lower?api-version=2025-07-01'))
      .body as Record<string, any>;
    expect(bundle['pending']).toEqual({ id: `${emulator.url}certificates/lower/pending` });
    expect(bundle['policy'].x509_props).toEqual({
      subject: 'cn=MyCert',
      sans: {},
      ekus: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
      key_usage: ['digitalSignature', 'keyEncipherment'],
      validity_months: 12,
      basic_constraints: { ca: false },
    });
    expect(bundle['policy'].key_props).toEqual({ exportable: true, kty: 'RSA', key_size: 2048, reuse_key: false });
    expect(bundle['policy'].secret_props).toEqual({ contentType: 'application/x-pkcs12' });
    const { created: createdAt, nbf, exp } = bundle['attributes'] as { created: number; nbf: number; exp: number };
    expect(createdAt - nbf).toBe(600);
    expect(exp - createdAt).toBeGreaterThanOrEqual(365 * 24 * 3600);
    const completed = await rawRequest(
      emulator.url,
      emulator.caCertPem,
      '/certificates/lower/pending?api-version=2025-07-01',
    );
    expect(completed.headers['retry-after']).toBeUndefined();
  });

  it('completes a pending certificate when the emulator clock passes its pending time', async () => {
    emulator.configure({ pendingMs: 3_600_000 });
    try {
      await clients.certificates.beginCreateCertificate('clocked', { issuerName: 'Self', subject: 'CN=c' });
      const pending = await clients.certificates.getCertificateOperation('clocked');
      expect(pending.getOperationState().certificateOperation?.status).toBe('inProgress');
      emulator.clock.advance(3_600_000);
      const operation = await clients.certificates.getCertificateOperation('clocked');
      expect(operation.getOperationState().certificateOperation?.status).toBe('completed');
      expect((await clients.keys.getKey('clocked')).properties.managed).toBe(true);
    } finally {
      emulator.configure({ pendingMs: 50 });
    }
  });

  it('keeps a certificate secret as PEM when the policy asks for it', async () => {
    const policy = { issuerName: 'Self', subject: 'CN=pem', contentType: 'application/x-pem-file' as const };
    await (await clients.certificates.beginCreateCertificate('pem', policy, POLL)).pollUntilDone();
    const secret = await clients.secrets.getSecret('pem');
    expect(secret.properties.contentType).toBe('application/x-pem-file');
    expect(secret.value).toContain('-----BEGIN PRIVATE KEY-----');
    expect(secret.value).toContain('-----BEGIN CERTIFICATE-----');
  });

  it('refuses a policy with an issuer the emulator cannot sign for', async () => {
    await expect(
      clients.certificates.beginCreateCertificate('external', { issuerName: 'DigiCert', subject: 'CN=x' }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'BadParameter' });
  });
});
