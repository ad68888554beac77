/**
 * The VaultPort contract, run against the in-memory vault and the Key Vault adapter on the emulator: the use cases'
 * tests run on the fake, so it must answer listings, versions, backup and restore, soft-delete, recover and purge
 * the way the real adapter does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorCredential } from '../../src/adapters/credential';
import { createKeyVaultPortFactory } from '../../src/adapters/key-vault';
import type { ObjectSummary, ObjectType } from '../../src/core/domain';
import type { VaultPort } from '../../src/core/ports';
import { sdkClients, startTestEmulator, type TestEmulator } from '../support/emulator';
import { InMemoryVault, RecordingLogger, RecordingTelemetry } from '../support/in-memory';

/** A vault port and a way to put objects into the vault behind it. */
interface VaultUnderTest {
  port: VaultPort;
  /** Creates a key with `versions` versions. */
  seedKey(name: string, versions: number): Promise<void>;
  /** Creates a secret (one version). */
  seedSecret(name: string): Promise<void>;
  /** Creates a self-signed certificate (with its managed key and secret). */
  seedCertificate(name: string): Promise<void>;
}

let sequence = 0;
/** A name no other test uses: the emulator's vault is shared by the whole file. */
function uniqueName(prefix: string): string {
  sequence += 1;
  return `${prefix}-${sequence}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Every live object of a type whose name starts with `prefix`, following continuation tokens. */
async function listAll(port: VaultPort, type: ObjectType, prefix: string, pageSize: number) {
  const seen: ObjectSummary[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await port.listObjects(type, { pageSize, continuationToken: token });
    expect(page.items.length).toBeLessThanOrEqual(pageSize);
    seen.push(...page.items.filter((o) => o.name.startsWith(prefix)));
    token = page.continuationToken;
    pages += 1;
  } while (token && pages < 200);
  return { seen, pages };
}

/**
 * The behaviour every {@link VaultPort} keeps.
 * @param name - which implementation
 * @param newVault - a vault port and its seeding
 */
function vaultPortContract(name: string, newVault: () => VaultUnderTest): void {
  describe(`VaultPort contract: ${name}`, () => {
    it('names the vault by its URL and starts with no throttling counted', () => {
      const { port } = newVault();
      expect(port.url).toMatch(/^https:\/\/.+\/$/);
      expect(port.name).toMatch(/^[0-9a-z-]+$/);
      expect(port.stats()).toEqual({ throttled: 0, maxConcurrency: expect.any(Number) });
    });

    it('lists every live object once, page by page, flagging the key a certificate manages', async () => {
      const vault = newVault();
      const prefix = uniqueName('page');
      for (let i = 0; i < 5; i++) await vault.seedKey(`${prefix}-k${i}`, 1);
      await vault.seedCertificate(`${prefix}-cert`);
      const { seen, pages } = await listAll(vault.port, 'key', prefix, 2);
      expect(pages).toBeGreaterThanOrEqual(3);
      expect(seen.map((o) => o.name).sort()).toEqual(
        [...[0, 1, 2, 3, 4].map((i) => `${prefix}-k${i}`), `${prefix}-cert`].sort(),
      );
      expect(seen.find((o) => o.name === `${prefix}-cert`)).toMatchObject({ type: 'key', managed: true });
      expect(seen.find((o) => o.name === `${prefix}-k0`)).toMatchObject({ type: 'key', managed: false, enabled: true });
      const certificates = await listAll(vault.port, 'certificate', prefix, 25);
      expect(certificates.seen).toEqual([expect.objectContaining({ name: `${prefix}-cert`, managed: false })]);
    });

    it('answers every version of an object', async () => {
      const vault = newVault();
      const name = uniqueName('versions');
      await vault.seedKey(name, 3);
      const versions = await vault.port.listVersions('key', name);
      expect(versions).toHaveLength(3);
      expect(new Set(versions.map((v) => v.version)).size).toBe(3);
      for (const version of versions) expect(version).toMatchObject({ enabled: true, version: expect.any(String) });
    });

    it('answers NotFound for a missing object and calls its name free', async () => {
      const { port } = newVault();
      const name = uniqueName('missing');
      await expect(port.listVersions('key', name)).rejects.toMatchObject({ code: 'NotFound' });
      await expect(port.backup('secret', name)).rejects.toMatchObject({ code: 'NotFound' });
      expect(await port.nameState('certificate', name)).toBe('free');
    });

    it('restores a backup only once the name is free: Conflict while live or soft-deleted, then all versions back', async () => {
      const vault = newVault();
      const name = uniqueName('cycle');
      await vault.seedKey(name, 2);
      const bytes = await vault.port.backup('key', name);
      expect(bytes.byteLength).toBeGreaterThan(0);
      expect(await vault.port.nameState('key', name)).toBe('live');
      await expect(vault.port.restore('key', bytes)).rejects.toMatchObject({ code: 'Conflict' });

      await vault.port.delete('key', name);
      expect(await vault.port.nameState('key', name)).toBe('deleted');
      expect((await vault.port.listDeleted('key')).map((d) => d.name)).toContain(name);
      await expect(vault.port.restore('key', bytes)).rejects.toMatchObject({ code: 'Conflict' });

      await vault.port.purge('key', name);
      expect(await vault.port.nameState('key', name)).toBe('free');
      expect(await vault.port.restore('key', bytes)).toEqual({ name });
      expect(await vault.port.nameState('key', name)).toBe('live');
      expect(await vault.port.listVersions('key', name)).toHaveLength(2);
    });

    it('recovers a soft-deleted secret so it is live and listed again', async () => {
      const vault = newVault();
      const name = uniqueName('recover');
      await vault.seedSecret(name);
      await vault.port.delete('secret', name);
      const deleted = (await vault.port.listDeleted('secret')).find((d) => d.name === name);
      expect(deleted).toMatchObject({ type: 'secret', name, deletedOn: expect.any(Date) });
      await vault.port.recover('secret', name);
      expect(await vault.port.nameState('secret', name)).toBe('live');
      expect((await listAll(vault.port, 'secret', name, 25)).seen.map((o) => o.name)).toEqual([name]);
    });
  });
}

let emulator: TestEmulator;
let clients: ReturnType<typeof sdkClients>;
beforeAll(async () => {
  emulator = await startTestEmulator();
  clients = sdkClients(emulator.url, emulator.caCertPem);
});
afterAll(async () => {
  await emulator?.stop();
});

vaultPortContract('in-memory vault', () => {
  const vault = new InMemoryVault('https://contract.vault.azure.net/');
  return {
    port: vault,
    seedKey: async (name, versions) => void vault.seedKey(name, { versions }),
    seedSecret: async (name) => void vault.seedSecret(name),
    seedCertificate: async (name) => void vault.seedCertificate(name),
  };
});

vaultPortContract('Key Vault adapter on the emulator', () => {
  const factory = createKeyVaultPortFactory({
    credential: emulatorCredential,
    ceilingPerSecond: () => 1_000,
    caCertPem: emulator.caCertPem,
    maxConcurrency: 4,
    logger: new RecordingLogger(),
    telemetry: new RecordingTelemetry(),
    retry: { baseDelayMs: 10, maxDelayMs: 200 },
    poll: { initialMs: 10, maxMs: 50 },
  });
  return {
    port: factory.open(emulator.url),
    seedKey: async (name, versions) => {
      for (let i = 0; i < versions; i++) await clients.keys.createEcKey(name);
    },
    seedSecret: async (name) => void (await clients.secrets.setSecret(name, `value-of-${name}`)),
    seedCertificate: async (name) => {
      const poller = await clients.certificates.beginCreateCertificate(
        name,
        { issuerName: 'Self', subject: `CN=${name}` },
        { intervalInMs: 10 },
      );
      await poller.pollUntilDone();
    },
  };
});
