/**
 * Portable exports and restores end to end: the real adapters (Key Vault SDK clients incl. CryptographyClient, Blob
 * storage) against the Key Vault emulator and Azurite. `prod` is in westeurope; `offsite` is in eastus (another
 * geography) and holds the KEK, so Key Vault's own backups of `prod` cannot be restored there and portable ones can.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { backupSettings, doctorDependencies, doctorSettings, useServices, type Services } from '../../src/composition';
import { createServices } from '../../src/composition-adapters';
import { runDoctor } from '../../src/core/doctor';
import { findVault, loadConfig } from '../../src/config';
import { backupVaultNow } from '../../src/core/backup/runs';
import { rewrapVault } from '../../src/core/portable/rewrap';
import type { Logger, Telemetry } from '../../src/core/ports';
import { restoreFunction } from '../../src/functions/restore';
import { httpRequest, invocationContext } from '../core/restore/function-harness';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { sdkClients, startTestEmulator, type TestEmulator } from '../support/emulator';

const CANARY = 'canary-5c1e0a77-never-outside-an-envelope';

let emulator: TestEmulator;
let azurite: TestAzurite;
let prodUrl: string;
let offsiteUrl: string;
const logLines: string[] = [];
const telemetryRecords: string[] = [];

/** Everything logged, as the console logger would write it (JSON). */
const recordingLogger: Logger = {
  info: (message, properties) => logLines.push(JSON.stringify({ message, ...properties })),
  warn: (message, properties) => logLines.push(JSON.stringify({ message, ...properties })),
  error: (message, properties) => logLines.push(JSON.stringify({ message, ...properties })),
};
const recordingTelemetry: Telemetry = {
  event: (name, properties, measurements) => telemetryRecords.push(JSON.stringify({ name, properties, measurements })),
  metric: (name, value, properties) => telemetryRecords.push(JSON.stringify({ name, value, properties })),
};

function servicesFor(options: { container: string; kek: string }): Services {
  const config = loadConfig({
    KVGUARD_VAULTS: JSON.stringify([
      { url: prodUrl, name: 'prod', portable: true },
      { url: offsiteUrl, name: 'offsite' },
    ]),
    KVGUARD_PORTABLE_KEK: options.kek,
    KVGUARD_STORAGE: azurite.connectionString,
    KVGUARD_CONTAINER: options.container,
    KVGUARD_STATE_CONTAINER: uniqueStorageName('state'),
    KVGUARD_CREDENTIAL: 'emulator',
    KVGUARD_KEYVAULT_CA_CERT: emulator.caCertPath,
    KVGUARD_REQUIRE_PRINCIPAL: 'false',
  });
  return { ...createServices(config, recordingLogger), telemetry: recordingTelemetry };
}

async function backUpProd(services: Services) {
  return backupVaultNow(findVault(services.config, 'prod')!, services, backupSettings(services.config), { full: true });
}

/** Every manifest entry of a run. */
async function runEntries(services: Services, run: Awaited<ReturnType<typeof backUpProd>>) {
  const manifests = await Promise.all(run.manifests.map((blob) => services.store.readManifest(blob)));
  return manifests.flatMap((m) => m.entries);
}

async function postRestore(services: Services, body: unknown) {
  useServices(services);
  try {
    const response = await restoreFunction.handler(
      httpRequest({ method: 'POST', path: '/api/restore', body }),
      invocationContext('restore'),
    );
    return { status: response.status, body: response.jsonBody as Record<string, any> };
  } finally {
    useServices(undefined);
  }
}

/**
 * A secret's versions (value, content type, tags, attributes) and its current value. A restore recreates versions
 * within one second, and `created` has one-second resolution, so the versions are compared as a set and their order
 * by which one is current (the last recreated).
 */
async function secretVersions(vaultUrl: string, name: string) {
  const { secrets } = sdkClients(vaultUrl, emulator.caCertPem);
  const properties = [];
  for await (const p of secrets.listPropertiesOfSecretVersions(name)) properties.push(p);
  const versions = await Promise.all(
    properties.map(async (p) => {
      const secret = await secrets.getSecret(name, { version: p.version! });
      return {
        value: secret.value,
        contentType: p.contentType,
        tags: p.tags ?? {},
        enabled: p.enabled,
        expiresOn: p.expiresOn?.toISOString(),
        notBefore: p.notBefore?.toISOString(),
      };
    }),
  );
  versions.sort((a, b) => String(a.value).localeCompare(String(b.value)));
  return { current: (await secrets.getSecret(name)).value, versions };
}

/** A certificate's versions (X.509 and tags) as a set, and its current X.509 (see {@link secretVersions}). */
async function certificateVersions(vaultUrl: string, name: string) {
  const { certificates } = sdkClients(vaultUrl, emulator.caCertPem);
  const properties = [];
  for await (const p of certificates.listPropertiesOfCertificateVersions(name)) properties.push(p);
  const versions = await Promise.all(
    properties.map(async (p) => {
      const certificate = await certificates.getCertificateVersion(name, p.version!);
      return { cer: Buffer.from(certificate.cer!).toString('base64'), tags: p.tags ?? {} };
    }),
  );
  versions.sort((a, b) => a.cer.localeCompare(b.cer));
  const current = await certificates.getCertificate(name);
  return { current: Buffer.from(current.cer!).toString('base64'), versions };
}

function container(name: string) {
  return BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(name);
}

beforeAll(async () => {
  [emulator, azurite] = await Promise.all([
    startTestEmulator({
      vaults: [
        { name: 'prod', location: 'westeurope' },
        { name: 'offsite', location: 'eastus' },
      ],
    }),
    startTestAzurite(),
  ]);
  prodUrl = emulator.vaults[0]!.url;
  offsiteUrl = emulator.vaults[1]!.url;
  const prod = sdkClients(prodUrl, emulator.caCertPem);
  const offsite = sdkClients(offsiteUrl, emulator.caCertPem);
  await offsite.keys.createRsaKey('kek', { keySize: 3072, keyOps: ['wrapKey', 'unwrapKey'] });
  await offsite.keys.createRsaKey('other-kek', { keySize: 2048, keyOps: ['wrapKey', 'unwrapKey'] });
  // Key Vault's `created` has one-second resolution: versions a second apart have an order to keep.
  const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1_100));
  await prod.secrets.setSecret('db-password', `${CANARY}-1`, { contentType: 'text/plain', tags: { env: 'prod' } });
  await nextSecond();
  await prod.secrets.setSecret('db-password', `${CANARY}-2`, {
    contentType: 'text/plain',
    tags: { env: 'prod', rotated: 'yes' },
    expiresOn: new Date('2031-01-01T00:00:00Z'),
    notBefore: new Date('2025-01-01T00:00:00Z'),
  });
  await prod.secrets.setSecret('api-token', `${CANARY}-token`, { tags: { owner: 'payments' } });
  const policy = { issuerName: 'Self', subject: 'CN=tls.prod.example' };
  await (await prod.certificates.beginCreateCertificate('tls', policy, { intervalInMs: 20 })).pollUntilDone();
  await nextSecond();
  await (await prod.certificates.beginCreateCertificate('tls', policy, { intervalInMs: 20 })).pollUntilDone();
  await (
    await prod.certificates.beginCreateCertificate(
      'locked',
      { issuerName: 'Self', subject: 'CN=locked', exportable: false },
      { intervalInMs: 20 },
    )
  ).pollUntilDone();
  await prod.keys.createRsaKey('signing', { keySize: 2048 });
}, 60_000);

afterAll(async () => {
  useServices(undefined);
  await Promise.all([emulator?.stop(), azurite?.stop()]);
});

describe('portable exports and restores against the emulator and Azurite', () => {
  const backups = uniqueStorageName('portable');
  let services: Services;

  beforeAll(async () => {
    services = servicesFor({ container: backups, kek: `${offsiteUrl}keys/kek` });
    await backUpProd(services);
  }, 60_000);

  it('exports every secret version and exportable certificate version beside the opaque backups, incrementally', async () => {
    const names: string[] = [];
    for await (const blob of container(backups).listBlobsFlat({ prefix: 'portable/prod/' })) names.push(blob.name);
    const envelopes = names.filter((n) => n.includes('/envelopes/'));
    expect(envelopes.filter((n) => n.startsWith('portable/prod/secret/db-password/'))).toHaveLength(2);
    expect(envelopes.filter((n) => n.startsWith('portable/prod/secret/api-token/'))).toHaveLength(1);
    expect(envelopes.filter((n) => n.startsWith('portable/prod/certificate/tls/'))).toHaveLength(2);
    expect(envelopes.filter((n) => n.includes('/locked/'))).toEqual([]);
    // A second full run stores new opaque backups and snapshots, but seals nothing again.
    const second = await backUpProd(services);
    const entries = (await runEntries(services, second)).filter((e) => e.portable);
    expect(entries.map((e) => [e.type, e.name, e.portable!.status, e.portable!.sealed ?? 0]).sort()).toEqual(
      [
        ['certificate', 'locked', 'not-carried', 0],
        ['certificate', 'tls', 'exported', 0],
        ['secret', 'api-token', 'exported', 0],
        ['secret', 'db-password', 'exported', 0],
      ].sort(),
    );
    const after: string[] = [];
    for await (const blob of container(backups).listBlobsFlat({ prefix: 'portable/prod/' })) after.push(blob.name);
    expect(after.filter((n) => n.includes('/envelopes/'))).toEqual(envelopes);
  });

  it('restores every version into a vault of another geography, where the opaque backup is refused', async () => {
    const opaque = await postRestore(services, {
      vault: 'prod',
      targetVault: 'offsite',
      objectType: 'key',
      name: 'signing',
    });
    expect(opaque.body.objects[0]).toMatchObject({
      outcome: 'failed',
      code: 'BadRequest',
      reason: expect.stringContaining('Cannot decrypt backup blob'),
    });

    const dryRun = await postRestore(services, {
      vault: 'prod',
      targetVault: 'offsite',
      format: 'portable',
      dryRun: true,
    });
    expect(dryRun.status).toBe(200);
    expect(dryRun.body).toMatchObject({ status: 'planned', format: 'portable', counts: { planned: 3 } });
    expect((await sdkClients(offsiteUrl, emulator.caCertPem).secrets.listPropertiesOfSecrets().next()).done).toBe(true);

    const restored = await postRestore(services, { vault: 'prod', targetVault: 'offsite', format: 'portable' });
    expect(restored.status).toBe(200);
    expect(restored.body.status).toBe('succeeded');
    expect(restored.body.counts.restored).toBe(3);
    expect(restored.body.notCarried).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'key', name: 'signing', reason: expect.stringContaining('never leaves') }),
        expect.objectContaining({
          type: 'certificate',
          name: 'locked',
          reason: expect.stringContaining('non-exportable'),
        }),
      ]),
    );
    expect(await secretVersions(offsiteUrl, 'db-password')).toEqual(await secretVersions(prodUrl, 'db-password'));
    expect(await secretVersions(offsiteUrl, 'api-token')).toEqual(await secretVersions(prodUrl, 'api-token'));
    const tls = await certificateVersions(offsiteUrl, 'tls');
    expect(tls.versions).toHaveLength(2);
    expect(tls).toEqual(await certificateVersions(prodUrl, 'tls'));
    // The certificate's private key came along: its secret holds the key, as in the source.
    const secret = await sdkClients(offsiteUrl, emulator.caCertPem).secrets.getSecret('tls');
    expect(secret.properties.contentType).toBe('application/x-pkcs12');

    const again = await postRestore(services, { vault: 'prod', targetVault: 'offsite', format: 'portable' });
    expect(again.body.status).toBe('conflict');
  });

  it('restores one secret under another name after a dry run, and audits it', async () => {
    const body = {
      vault: 'prod',
      targetVault: 'offsite',
      format: 'portable',
      objectType: 'secret',
      name: 'db-password',
      targetName: 'db-password-copy',
    };
    const planned = await postRestore(services, { ...body, dryRun: true });
    expect(planned.body.objects[0]).toMatchObject({ name: 'db-password-copy', outcome: 'planned', action: 'restore' });
    const restored = await postRestore(services, body);
    expect(restored.body).toMatchObject({ status: 'succeeded', objects: [{ name: 'db-password-copy', versions: 2 }] });
    expect(await secretVersions(offsiteUrl, 'db-password-copy')).toEqual(await secretVersions(prodUrl, 'db-password'));
    const audit = [];
    for await (const entry of services.store.listAudit({ requestId: restored.body.requestId })) audit.push(entry);
    expect(audit.map((e) => e.outcome).sort()).toEqual(['started', 'succeeded']);
    expect(audit[0]!.source).toMatchObject({ vault: 'prod', format: 'portable' });
  });

  it('refuses a tampered envelope (GCM tag, swapped associated data, another KEK) and changes nothing', async () => {
    const prefix = 'portable/prod/secret/api-token/envelopes/';
    let blobName = '';
    for await (const blob of container(backups).listBlobsFlat({ prefix })) blobName = blob.name;
    const blob = container(backups).getBlockBlobClient(blobName);
    const original = (await blob.downloadToBuffer()).toString('utf8');
    // An attacker with write access to storage keeps the listing's metadata, so kvguard finds the envelope.
    const { metadata } = await blob.getProperties();
    const envelope = JSON.parse(original);
    const tag = Buffer.from(envelope.cipher.tag, 'base64');
    tag[3]! ^= 0x40;
    const { secrets, keys } = sdkClients(offsiteUrl, emulator.caCertPem);
    const otherKek = await keys.getKey('other-kek');
    const tampered: [string, object, string][] = [
      [
        'GCM tag',
        { ...envelope, cipher: { ...envelope.cipher, tag: tag.toString('base64') } },
        'failed authentication',
      ],
      [
        'associated data',
        { ...envelope, metadata: { ...envelope.metadata, tags: { owner: 'mallory' } } },
        'failed authentication',
      ],
      ['identity', { ...envelope, name: 'db-password' }, 'not secret api-token'],
      ['KEK', { ...envelope, kek: { ...envelope.kek, keyId: otherKek.id } }, 'could not unwrap'],
    ];
    try {
      for (const [what, document, message] of tampered) {
        const text = JSON.stringify(document);
        await blob.upload(text, Buffer.byteLength(text), { metadata });
        const answer = await postRestore(services, {
          vault: 'prod',
          targetVault: 'offsite',
          format: 'portable',
          name: 'api-token',
          targetName: `tampered-${what.replace(/\W/g, '-')}`,
        });
        expect(answer.body.status, what).toBe('failed');
        expect(answer.body.objects[0], what).toMatchObject({
          outcome: 'failed',
          code: 'IntegrityError',
          reason: expect.stringContaining(message),
        });
        expect(JSON.stringify(answer.body)).not.toContain(CANARY);
      }
    } finally {
      await blob.upload(original, Buffer.byteLength(original), { metadata });
    }
    const names: string[] = [];
    for await (const p of secrets.listPropertiesOfSecrets()) names.push(p.name);
    expect(names.filter((n) => n.startsWith('tampered-'))).toEqual([]);
  });

  it('rewraps every data key under a new KEK version without touching the data, so the old version can go', async () => {
    const { keys } = sdkClients(offsiteUrl, emulator.caCertPem);
    const old = await keys.getKey('kek');
    const rotated = await keys.createRsaKey('kek', { keySize: 3072, keyOps: ['wrapKey', 'unwrapKey'] });
    const portable = services.portable!;
    const kek = portable.vaults.keyWrapper(portable.kekId!);
    const report = await rewrapVault({ store: portable.store, kek, clock: services.clock }, 'prod');
    expect(report).toEqual({ vault: 'prod', kekId: rotated.id, rewrapped: 5, current: 0, failed: [] });
    const envelopes = await portable.store.listEnvelopes('prod');
    const rewrapped = envelopes.filter((e) => e.keyId === rotated.id);
    expect(rewrapped).toHaveLength(5);
    for (const ref of rewrapped) {
      const [before] = envelopes.filter(
        (e) => e.objectKey === ref.objectKey && e.version === ref.version && e.keyId === old.id,
      );
      const [a, b] = await Promise.all([
        portable.store.readEnvelope(before!.blobName),
        portable.store.readEnvelope(ref.blobName),
      ]);
      expect(b.cipher).toEqual(a.cipher);
      expect(b.kek.wrappedKey).not.toBe(a.kek.wrappedKey);
    }
    expect(await rewrapVault({ store: portable.store, kek, clock: services.clock }, 'prod')).toMatchObject({
      rewrapped: 0,
      current: 5,
    });
    // With the old version disabled (it can no longer unwrap), the rewrapped exports still restore.
    await keys.updateKeyProperties('kek', old.properties.version!, { enabled: false });
    const restored = await postRestore(services, {
      vault: 'prod',
      targetVault: 'offsite',
      format: 'portable',
      objectType: 'certificate',
      name: 'tls',
      targetName: 'tls-after-rotation',
    });
    expect(restored.body).toMatchObject({ status: 'succeeded', objects: [{ versions: 2 }] });
  });

  it('never lets a secret value into logs, telemetry, catalog metadata or any blob but the envelopes', async () => {
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(CANARY);
    expect(telemetryRecords.join('\n')).not.toContain(CANARY);
    let scanned = 0;
    for await (const blob of container(backups).listBlobsFlat({ includeMetadata: true, includeTags: true })) {
      expect(JSON.stringify(blob.metadata ?? {}), blob.name).not.toContain(CANARY);
      const text = (await container(backups).getBlobClient(blob.name).downloadToBuffer()).toString('latin1');
      // Opaque backups are encrypted by Key Vault; envelopes by kvguard: neither holds the value in the clear.
      expect(text, blob.name).not.toContain(CANARY);
      expect(Buffer.from(text, 'latin1').toString('base64')).not.toContain(Buffer.from(CANARY).toString('base64'));
      scanned += 1;
    }
    expect(scanned).toBeGreaterThan(10);
  });
});

describe('portable exports when the KEK is unavailable', () => {
  it('fail loudly (failed entries, a critical alert) while the opaque backups are stored', async () => {
    const backups = uniqueStorageName('nokek');
    const services = servicesFor({ container: backups, kek: `${offsiteUrl}keys/no-such-kek` });
    const run = await backUpProd(services);
    const entries = await runEntries(services, run);
    const secrets = entries.filter((e) => e.type === 'secret');
    expect(secrets.length).toBe(2);
    for (const entry of secrets) {
      expect(entry.outcome.status).toBe('stored');
      expect(entry.portable).toMatchObject({ status: 'failed', code: 'NotFound' });
    }
    expect(entries.find((e) => e.type === 'key')?.outcome.status).toBe('stored');
    const alerts = await services.alertOutbox.recent(50);
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'kvguard.PortableExportFailed',
          severity: 'critical',
          summary: expect.stringContaining('opaque backups are stored'),
        }),
      ]),
    );
    const portable: string[] = [];
    for await (const blob of container(backups).listBlobsFlat({ prefix: 'portable/' })) portable.push(blob.name);
    expect(portable.filter((n) => n.includes('/envelopes/'))).toEqual([]);
  });

  it('is what kvguard doctor reports, and a usable KEK passes', async () => {
    const kekCheck = async (kek: string) => {
      const services = servicesFor({ container: uniqueStorageName('doctor'), kek });
      const report = await runDoctor(doctorSettings(services.config, false), await doctorDependencies(services));
      return report.checks.find((c) => c.check === 'portable.kek');
    };
    expect(await kekCheck(`${offsiteUrl}keys/no-such-kek`)).toMatchObject({
      outcome: 'fail',
      fix: expect.stringContaining('KEK role'),
    });
    expect(await kekCheck(`${offsiteUrl}keys/kek`)).toMatchObject({
      outcome: 'pass',
      subject: `${offsiteUrl}keys/kek`,
    });
  });
});
