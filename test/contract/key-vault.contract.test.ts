/**
 * The Key Vault behaviours kvguard relies on, through the unchanged SDK clients. The same suite runs against the
 * emulator (always, inside `npm test`) and against a real vault when `KVGUARD_CONTRACT_VAULT=https://….vault.azure.net/`
 * is set (`npm run test:contract`; credentials from `DefaultAzureCredential`, e.g. `az login`). The real vault needs
 * soft delete without purge protection and a principal allowed to create, back up, restore, delete and purge keys,
 * secrets and certificates; every object the suite creates is named `kvguard-contract-…` and purged afterwards.
 */
import { randomBytes } from 'node:crypto';
import { DefaultAzureCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/core-auth';
import { CertificateClient } from '@azure/keyvault-certificates';
import { KeyClient } from '@azure/keyvault-keys';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorClientOptions, staticTestCredential, startTestEmulator, type TestEmulator } from '../support/emulator';

const REAL_VAULT = process.env.KVGUARD_CONTRACT_VAULT;

/** Where the suite runs and how long the service takes to settle (seconds on Azure, milliseconds here). */
interface ContractTarget {
  url: string;
  credential: TokenCredential;
  clientOptions: object;
  pollMs: number;
  /** How long a name stays blocked after a purge, at most. */
  settleMs: number;
  stop(): Promise<void>;
}

async function emulatorTarget(): Promise<ContractTarget> {
  const emulator: TestEmulator = await startTestEmulator();
  return {
    url: emulator.url,
    credential: staticTestCredential,
    clientOptions: emulatorClientOptions(emulator.caCertPem),
    pollMs: 10,
    settleMs: 5_000,
    stop: () => emulator.stop(),
  };
}

async function realTarget(url: string): Promise<ContractTarget> {
  return {
    url,
    credential: new DefaultAzureCredential(),
    clientOptions: {},
    pollMs: 1_000,
    settleMs: 120_000,
    stop: async () => undefined,
  };
}

const targets: { name: string; enabled: boolean; start: () => Promise<ContractTarget> }[] = [
  { name: 'the emulator', enabled: true, start: emulatorTarget },
  {
    name: `the real vault ${REAL_VAULT ?? '(KVGUARD_CONTRACT_VAULT unset)'}`,
    enabled: Boolean(REAL_VAULT),
    start: () => realTarget(REAL_VAULT!),
  },
];

for (const target of targets) {
  describe.skipIf(!target.enabled)(`Key Vault contract: ${target.name}`, { timeout: 600_000 }, () => {
    let vault: ContractTarget;
    let keys: KeyClient;
    let secrets: SecretClient;
    let certificates: CertificateClient;
    const created: { kind: 'key' | 'secret' | 'certificate'; name: string }[] = [];
    const run = randomBytes(3).toString('hex');
    const nameFor = (kind: 'key' | 'secret' | 'certificate', label: string) => {
      const name = `kvguard-contract-${run}-${label}`;
      created.push({ kind, name });
      return name;
    };
    const poll = () => ({ intervalInMs: vault.pollMs });

    /** Restore answers 409 for a while after a purge (Key Vault's in-between state): retry until it settles. */
    async function afterPurgeSettles<T>(restore: () => Promise<T>): Promise<T> {
      const deadline = Date.now() + vault.settleMs;
      for (;;) {
        try {
          return await restore();
        } catch (error) {
          if ((error as { statusCode?: number }).statusCode !== 409 || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, vault.pollMs * 5));
        }
      }
    }

    beforeAll(async () => {
      vault = await target.start();
      keys = new KeyClient(vault.url, vault.credential, vault.clientOptions);
      secrets = new SecretClient(vault.url, vault.credential, vault.clientOptions);
      certificates = new CertificateClient(vault.url, vault.credential, vault.clientOptions);
    });

    afterAll(async () => {
      // Best effort: leave nothing behind in a real vault.
      for (const { kind, name } of created) {
        const remove = {
          key: async () => (await keys.beginDeleteKey(name, poll())).pollUntilDone(),
          secret: async () => (await secrets.beginDeleteSecret(name, poll())).pollUntilDone(),
          certificate: async () => (await certificates.beginDeleteCertificate(name, poll())).pollUntilDone(),
        }[kind];
        const purge = {
          key: () => keys.purgeDeletedKey(name),
          secret: () => secrets.purgeDeletedSecret(name),
          certificate: () => certificates.purgeDeletedCertificate(name),
        }[kind];
        await remove().catch(() => undefined);
        await purge().catch(() => undefined);
      }
      await vault?.stop();
    });

    it('backs up every version of a key and restores them, ids and all, once the purged name is free', async () => {
      const name = nameFor('key', 'versions');
      await keys.createRsaKey(name, { keySize: 2048, tags: { kvguard: 'contract' } });
      await keys.createRsaKey(name, { keySize: 2048 });
      const before: string[] = [];
      for await (const version of keys.listPropertiesOfKeyVersions(name)) before.push(version.version!);
      expect(before).toHaveLength(2);
      const blob = await keys.backupKey(name);
      expect(blob?.length).toBeGreaterThan(0);

      await (await keys.beginDeleteKey(name, poll())).pollUntilDone();
      await expect(keys.restoreKeyBackup(blob!)).rejects.toMatchObject({ statusCode: 409 });
      await keys.purgeDeletedKey(name);
      const restored = await afterPurgeSettles(() => keys.restoreKeyBackup(blob!));

      expect(restored.name).toBe(name);
      const after: string[] = [];
      for await (const version of keys.listPropertiesOfKeyVersions(name)) after.push(version.version!);
      expect(after.sort()).toEqual([...before].sort());
    });

    it('refuses to restore over a live name and changes nothing', async () => {
      const name = nameFor('secret', 'live');
      await secrets.setSecret(name, 'first');
      const blob = await secrets.backupSecret(name);
      await secrets.setSecret(name, 'second');
      await expect(secrets.restoreSecretBackup(blob!)).rejects.toMatchObject({ statusCode: 409, code: 'Conflict' });
      expect((await secrets.getSecret(name)).value).toBe('second');
    });

    it('refuses to reuse a soft-deleted name, and recovers it with every version', async () => {
      const name = nameFor('secret', 'recover');
      await secrets.setSecret(name, 'v1', { contentType: 'text/plain' });
      await secrets.setSecret(name, 'v2', { contentType: 'text/plain' });
      await (await secrets.beginDeleteSecret(name, poll())).pollUntilDone();

      await expect(secrets.setSecret(name, 'v3')).rejects.toMatchObject({ statusCode: 409, code: 'Conflict' });
      const deleted = await secrets.getDeletedSecret(name);
      expect(deleted.properties.recoveryId).toBeTruthy();
      expect(deleted.properties.scheduledPurgeDate!.getTime()).toBeGreaterThan(deleted.properties.deletedOn!.getTime());
      const listedDeleted: string[] = [];
      for await (const item of secrets.listDeletedSecrets()) listedDeleted.push(item.name);
      expect(listedDeleted).toContain(name);

      await (await secrets.beginRecoverDeletedSecret(name, poll())).pollUntilDone();
      const recovered = await secrets.getSecret(name);
      expect(recovered.value).toBe('v2');
      expect(recovered.properties.contentType).toBe('text/plain');
      let versions = 0;
      for await (const _version of secrets.listPropertiesOfSecretVersions(name)) versions++;
      expect(versions).toBe(2);
    });

    it('lists objects with their tags and without secret values', async () => {
      const name = nameFor('secret', 'listed');
      await secrets.setSecret(name, 'not-in-lists', { tags: { kvguard: 'critical' } });
      let found: { tags?: Record<string, string>; name: string } | undefined;
      for await (const properties of secrets.listPropertiesOfSecrets()) {
        if (properties.name === name) found = properties;
        expect(properties).not.toHaveProperty('value');
      }
      expect(found?.tags).toEqual({ kvguard: 'critical' });
    });

    it('answers a missing object with 404 and the family error code', async () => {
      await expect(keys.getKey(`kvguard-contract-${run}-absent`)).rejects.toMatchObject({
        statusCode: 404,
        code: 'KeyNotFound',
      });
      await expect(secrets.getDeletedSecret(`kvguard-contract-${run}-absent`)).rejects.toMatchObject({
        statusCode: 404,
        code: 'SecretNotFound',
      });
    });

    it('refuses a corrupt backup blob with 400', async () => {
      const name = nameFor('secret', 'corrupt');
      await secrets.setSecret(name, 'x');
      const blob = Buffer.from((await secrets.backupSecret(name))!);
      blob[blob.length - 10] = blob[blob.length - 10]! ^ 0x5a;
      await expect(secrets.restoreSecretBackup(blob)).rejects.toMatchObject({ statusCode: 400 });
    });

    it('backs up a certificate with its managed key and secret, and restores all three', async () => {
      const name = nameFor('certificate', 'tls');
      const policy = { issuerName: 'Self', subject: 'cn=kvguard-contract' };
      const certificate = await (await certificates.beginCreateCertificate(name, policy, poll())).pollUntilDone();
      expect(certificate.cer?.length).toBeGreaterThan(0);
      const secret = await secrets.getSecret(name);
      expect(secret.properties.contentType).toBe('application/x-pkcs12');
      expect(secret.properties.managed).toBe(true);
      const blob = await certificates.backupCertificate(name);

      await (await certificates.beginDeleteCertificate(name, poll())).pollUntilDone();
      await certificates.purgeDeletedCertificate(name);
      const restored = await afterPurgeSettles(() => certificates.restoreCertificateBackup(blob!));
      expect(restored.properties.version).toBe(certificate.properties.version);
      expect((await keys.getKey(name)).properties.version).toBe(certificate.properties.version);
      expect((await secrets.getSecret(name)).properties.version).toBe(certificate.properties.version);
    });
  });
}
