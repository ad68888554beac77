import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdkClients, startTestEmulator, type TestEmulator } from '../../support/emulator';

const SUBSCRIPTION = '11111111-1111-1111-1111-111111111111';
const OTHER_SUBSCRIPTION = '22222222-2222-2222-2222-222222222222';

describe('emulator: backups bound to a subscription and geography, as Key Vault binds them', () => {
  let emulator: TestEmulator;
  const clientsOf = (name: string) => sdkClients(emulator.vaults.find((v) => v.name === name)!.url, emulator.caCertPem);

  beforeAll(async () => {
    emulator = await startTestEmulator({
      vaults: [
        { name: 'source', subscriptionId: SUBSCRIPTION, location: 'westeurope' },
        { name: 'paired', subscriptionId: SUBSCRIPTION, location: 'northeurope' },
        { name: 'faraway', subscriptionId: SUBSCRIPTION, location: 'eastus' },
        { name: 'elsewhere', subscriptionId: OTHER_SUBSCRIPTION, location: 'westeurope' },
      ],
    });
  });
  afterAll(() => emulator.stop());

  it('reports each vault with its subscription and location', () => {
    expect(emulator.vaults.map(({ name, subscriptionId, location }) => ({ name, subscriptionId, location }))).toEqual([
      { name: 'source', subscriptionId: SUBSCRIPTION, location: 'westeurope' },
      { name: 'paired', subscriptionId: SUBSCRIPTION, location: 'northeurope' },
      { name: 'faraway', subscriptionId: SUBSCRIPTION, location: 'eastus' },
      { name: 'elsewhere', subscriptionId: OTHER_SUBSCRIPTION, location: 'westeurope' },
    ]);
  });

  it('writes blobs with the service marker and restores them in another region of the same geography', async () => {
    await clientsOf('source').secrets.setSecret('moving', 'v1');
    const blob = await clientsOf('source').secrets.backupSecret('moving');
    expect(Buffer.from(blob!).toString('latin1')).toMatch(/^&AzureKeyVaultKeyBackupV1\.microsoft\.com[\w-]+\.\./);
    const restored = await clientsOf('paired').secrets.restoreSecretBackup(blob!);
    expect(restored.name).toBe('moving');
  });

  it('refuses a blob from another geography or subscription with "Cannot decrypt backup blob" and creates nothing', async () => {
    await clientsOf('source').keys.createEcKey('bound');
    const blob = await clientsOf('source').keys.backupKey('bound');
    for (const vault of ['faraway', 'elsewhere']) {
      await expect(clientsOf(vault).keys.restoreKeyBackup(blob!)).rejects.toMatchObject({
        statusCode: 400,
        message: 'Cannot decrypt backup blob',
      });
      await expect(clientsOf(vault).keys.getKey('bound')).rejects.toMatchObject({ statusCode: 404 });
    }
  });

  it('answers a corrupt blob with the recorded code and message', async () => {
    await clientsOf('source').secrets.setSecret('tampered', 'v1');
    const blob = Buffer.from((await clientsOf('source').secrets.backupSecret('tampered'))!);
    blob[blob.length - 5] = blob[blob.length - 5]! ^ 0x01;
    await expect(clientsOf('source').secrets.restoreSecretBackup(blob)).rejects.toMatchObject({
      statusCode: 400,
      code: 'Malformed backup blob',
      message: 'Backup blob contains invalid or corrupt version.',
    });
  });
});
