import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../src/composition';
import { loadConfig } from '../src/config';
import { KvGuardError } from '../src/core/errors';
import { silentLogger } from '../src/core/ports';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from './support/azurite';

const azure = {
  KVGUARD_VAULTS: 'https://contoso.vault.azure.net',
  KVGUARD_STORAGE__blobServiceUri: 'https://stkvgbexample.blob.core.windows.net',
  AZURE_CLIENT_ID: '11111111-1111-1111-1111-111111111111',
};
const pruneClientId = '22222222-2222-2222-2222-222222222222';

function refusal(env: Record<string, string>): KvGuardError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof KvGuardError) return error;
    throw error;
  }
  throw new Error('configuration was accepted');
}

describe('pruning settings', () => {
  it('are off by default, and then nothing can tag', () => {
    const config = loadConfig(azure);
    expect(config.pruning).toBe(false);
    expect(config.pruneClientId).toBeUndefined();
    expect(createServices(config, silentLogger).pruneMarks).toBeUndefined();
  });

  it('need the prune identity on identity-based storage, and refuse kvguard own identity as it', () => {
    const missing = refusal({ ...azure, KVGUARD_PRUNING: 'true' });
    expect(missing).toMatchObject({ code: 'InvalidConfiguration', field: 'KVGUARD_PRUNE_CLIENT_ID' });
    expect(missing.message).toContain('KVGUARD_PRUNING=true');

    const same = refusal({
      ...azure,
      KVGUARD_PRUNING: 'true',
      KVGUARD_PRUNE_CLIENT_ID: azure.AZURE_CLIENT_ID.toUpperCase(),
    });
    expect(same).toMatchObject({ field: 'KVGUARD_PRUNE_CLIENT_ID' });
    expect(same.message).toContain('must differ from AZURE_CLIENT_ID');

    const config = loadConfig({ ...azure, KVGUARD_PRUNING: 'true', KVGUARD_PRUNE_CLIENT_ID: pruneClientId });
    expect(config).toMatchObject({ pruning: true, pruneClientId });
    expect(createServices(config, silentLogger).pruneMarks).toBeDefined();
  });

  it('refuse a prune client id that is not a GUID, and a pruning switch that is not a boolean, naming them', () => {
    const badId = refusal({ ...azure, KVGUARD_PRUNE_CLIENT_ID: 'id-kvguard-prune' });
    expect(badId).toMatchObject({ field: 'KVGUARD_PRUNE_CLIENT_ID' });
    expect(badId.message).toContain('KVGUARD_PRUNE_CLIENT_ID="id-kvguard-prune" must be a client id (GUID)');
    expect(refusal({ ...azure, KVGUARD_PRUNING: 'yes' })).toMatchObject({ field: 'KVGUARD_PRUNING' });
  });
});

describe('pruning on the local stack (connection string)', () => {
  let azurite: TestAzurite;
  beforeAll(async () => {
    azurite = await startTestAzurite();
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('tags through the connection string when switched on, without a prune identity', async () => {
    const container = uniqueStorageName('prune');
    const blobs = azurite.blobService().getContainerClient(container);
    await blobs.create();
    const name = 'backups/demo/key/k/0000000000001-aaaaaaaaaaaa.kvbak';
    await blobs.getBlockBlobClient(name).upload('x', 1);
    const env = { KVGUARD_VAULTS: 'https://contoso.vault.azure.net', KVGUARD_STORAGE: azurite.connectionString };
    const services = createServices(
      loadConfig({ ...env, KVGUARD_CONTAINER: container, KVGUARD_PRUNING: 'true' }),
      silentLogger,
    );
    await services.pruneMarks!.markPrunable(name, new Date('2026-12-01T00:00:00Z'));
    expect((await blobs.getBlobClient(name).getTags()).tags).toMatchObject({ 'kvguard-prunable': 'true' });
  });
});
