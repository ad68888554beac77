import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedDemoVault } from '../../../dev/emulator/seed';
import { sdkClients, startTestEmulator } from '../../support/emulator';

describe('emulator: data folder, persistence and backup binding', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kvguard-emulator-data-'));
  const persistDir = join(dataDir, 'state');
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('reuses its CA across restarts and reloads persisted objects with their versions', async () => {
    const first = await startTestEmulator({ dataDir, persistDir, vaults: [{ name: 'kept' }] });
    const created = await sdkClients(first.url, first.caCertPem).secrets.setSecret('survivor', 'v1', {
      tags: { a: 'b' },
    });
    await first.stop();
    expect(readFileSync(join(persistDir, 'kept.json'), 'utf8')).toContain('survivor');

    const second = await startTestEmulator({ dataDir, persistDir, vaults: [{ name: 'kept' }] });
    try {
      expect(second.caCertPem).toBe(first.caCertPem);
      const reloaded = await sdkClients(second.url, second.caCertPem).secrets.getSecret('survivor');
      expect(reloaded.properties.id?.split('/').at(-1)).toBe(created.properties.version);
      expect(reloaded.properties.tags).toEqual({ a: 'b' });
    } finally {
      await second.stop();
    }
  });

  it('refuses state of another format instead of half-reading it', async () => {
    const otherState = join(dataDir, 'other-state');
    mkdirSync(otherState, { recursive: true });
    writeFileSync(join(otherState, 'future.json'), JSON.stringify({ format: 2, objects: [] }));
    await expect(startTestEmulator({ dataDir, persistDir: otherState, vaults: [{ name: 'future' }] })).rejects.toThrow(
      /future\.json holds emulator state of format 2; this emulator reads format 1/,
    );
  });

  it('refuses a backup taken under another subscription', async () => {
    const home = await startTestEmulator({
      dataDir,
      subscriptionId: 'aaaaaaaa-0000-0000-0000-000000000001',
      vaults: [{ name: 'home' }],
    });
    const away = await startTestEmulator({
      dataDir,
      subscriptionId: 'aaaaaaaa-0000-0000-0000-000000000002',
      vaults: [{ name: 'away' }],
    });
    try {
      const homeKeys = sdkClients(home.url, home.caCertPem).keys;
      await homeKeys.createEcKey('portable');
      const backup = await homeKeys.backupKey('portable');
      await expect(sdkClients(away.url, away.caCertPem).keys.restoreKeyBackup(backup!)).rejects.toMatchObject({
        statusCode: 400,
        code: 'BadParameter',
      });
    } finally {
      await Promise.all([home.stop(), away.stop()]);
    }
  });

  it('seeds the demo vault with keys, secrets and certificates', async () => {
    const emulator = await startTestEmulator({ vaults: [{ name: 'demo' }] });
    try {
      await seedDemoVault(emulator.url, emulator.caCertPem);
      const { keys, secrets, certificates } = sdkClients(emulator.url, emulator.caCertPem);
      const keyNames: string[] = [];
      for await (const key of keys.listPropertiesOfKeys()) keyNames.push(key.name);
      expect(keyNames).toEqual(expect.arrayContaining(['demo-rsa', 'demo-ec', 'demo-tls']));
      expect((await keys.getKey('demo-rsa')).properties.tags).toMatchObject({ kvguard: 'critical' });
      let ecVersions = 0;
      for await (const _version of keys.listPropertiesOfKeyVersions('demo-ec')) ecVersions++;
      expect(ecVersions).toBe(2);
      expect((await secrets.getSecret('demo-db-password')).properties.contentType).toBe('text/plain');
      expect((await certificates.getCertificate('demo-signing')).policy?.keyType).toBe('EC');
    } finally {
      await emulator.stop();
    }
  });
});
