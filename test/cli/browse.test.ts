import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { runKvguard } from '../support/cli';
import { sdkClients, startTestEmulator, type TestEmulator } from '../support/emulator';

let emulator: TestEmulator;
let azurite: TestAzurite;
let clients: ReturnType<typeof sdkClients>;
let env: NodeJS.ProcessEnv;
let container: string;

/** Runs `kvguard --json` and answers the exit code and the parsed JSON document (never throws on a non-zero exit). */
async function kvguard(
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number; json: any; stderr: string }> {
  const { code, stdout, stderr } = await runKvguard([...args, '--json'], { env: { ...env, ...extraEnv } });
  return { code, json: stdout ? JSON.parse(stdout) : undefined, stderr };
}

beforeAll(async () => {
  [emulator, azurite] = await Promise.all([startTestEmulator(), startTestAzurite()]);
  clients = sdkClients(emulator.url, emulator.caCertPem);
  await Promise.all([
    clients.keys.createEcKey('kept-key', { curve: 'P-256', tags: { owner: 'team-a' } }),
    clients.secrets.setSecret('gone-secret', 'never-printed-value', { contentType: 'text/plain' }),
    clients.secrets.setSecret('tmp-scratch', 'never-printed-either'),
  ]);
  container = uniqueStorageName('browse');
  env = {
    PATH: process.env.PATH,
    KVGUARD_VAULTS: JSON.stringify([
      { url: emulator.url, name: 'brw', exclude: ['secret/tmp-*'], retention: { keepLast: 1 } },
    ]),
    KVGUARD_STORAGE: azurite.connectionString,
    KVGUARD_CONTAINER: container,
    KVGUARD_CREDENTIAL: 'emulator',
    KVGUARD_KEYVAULT_CA_CERT: emulator.caCertPath,
  };
});

afterAll(async () => {
  await Promise.all([emulator?.stop(), azurite?.stop()]);
});

describe('kvguard show, diff and retention against the emulator and Azurite', () => {
  it('diff --live names the key added and the secret deleted since a restore point; show never prints a value', async () => {
    const first = await kvguard(['backup']);
    expect(first.code).toBe(0);
    // tmp-* secrets are excluded by the vault's policy.
    expect(first.json.counts).toEqual({ stored: 2, unchanged: 0, failed: 0 });
    const before = new Date().toISOString();

    const shown = await kvguard(['show', 'brw', '--as-of', before]);
    expect(shown.code).toBe(0);
    expect(shown.json.objects.map((o: any) => `${o.type}/${o.name}`)).toEqual(['key/kept-key', 'secret/gone-secret']);
    expect(shown.json.objects[0]).toMatchObject({ tags: { owner: 'team-a' }, versions: [{ enabled: true }] });
    expect(shown.json.objects[1]).toMatchObject({ contentType: 'text/plain', backup: { sha256: expect.any(String) } });
    expect(JSON.stringify(shown.json)).not.toContain('never-printed');

    await clients.keys.createRsaKey('added-key');
    await (await clients.secrets.beginDeleteSecret('gone-secret')).pollUntilDone();

    const diff = await kvguard(['diff', 'brw', '--as-of', before, '--live']);
    expect(diff.code).toBe(0);
    expect(diff.json).toMatchObject({
      vault: 'brw',
      to: { basis: 'live' },
      added: [{ type: 'key', name: 'added-key', versions: 1 }],
      deleted: [{ type: 'secret', name: 'gone-secret', versions: 1 }],
      changed: [],
      unchanged: 1,
    });
  });

  it('retention --plan shows what keepLast lets go and why; --apply tags it for the lifecycle rule, deleting nothing', async () => {
    await clients.keys.createEcKey('kept-key', { curve: 'P-256' });
    const second = await kvguard(['backup']);
    expect(second.json.counts.stored).toBeGreaterThanOrEqual(2);

    const plan = await kvguard(['retention', '--plan']);
    expect(plan.code).toBe(0);
    const [vault] = plan.json.vaults;
    const kept = vault.objects.find((o: any) => o.name === 'kept-key');
    expect(kept.keep).toHaveLength(1);
    expect(kept.prune).toEqual([expect.objectContaining({ reason: 'superseded and not among the 1 newest' })]);
    const gone = vault.objects.find((o: any) => o.name === 'gone-secret');
    expect(gone).toMatchObject({ state: 'gone', prune: [] });

    const blobs = azurite.blobService().getContainerClient(container);
    const pruned = kept.prune[0].blobName as string;
    // Pruning is off by default: --apply refuses, naming the setting, and tags nothing.
    const refused = await kvguard(['retention', '--apply', '--vault', 'brw']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('KVGUARD_PRUNING');
    expect((await blobs.getBlobClient(pruned).getTags()).tags).toEqual({});

    const applied = await kvguard(['retention', '--apply', '--vault', 'brw'], { KVGUARD_PRUNING: 'true' });
    expect(applied.code).toBe(0);
    expect(applied.json.vaults[0].marks).toEqual({ vault: 'brw', marked: 1, failed: [] });
    expect((await blobs.getBlobClient(pruned).getTags()).tags).toMatchObject({ 'kvguard-prunable': 'true' });
    const inventory = pruned.replace(/^backups\//, 'inventory/').replace(/\.kvbak$/, '.json');
    expect((await blobs.getBlobClient(inventory).getTags()).tags).toMatchObject({ 'kvguard-prunable': 'true' });
    expect((await blobs.getBlobClient(kept.keep[0].blobName).getTags()).tags).toEqual({});
    expect(await blobs.getBlobClient(pruned).exists()).toBe(true);
  });
});
