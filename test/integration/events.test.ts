/**
 * End to end on the local stack (Key Vault emulator, Azurite, dev host running every function): a new key version
 * in the emulator becomes an Event Grid delivery to `vaultEvents`, a snapshot job on the queue, and a stored backup;
 * deleting and purging the key raise alerts on the next `kvguard watch --once`. An alert sink that always fails
 * (an unreachable Event Grid topic) is configured throughout, and stops nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import type { KeyClient } from '@azure/keyvault-keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../dev/start';
import { BlobBackupStore } from '../../src/adapters/blob-backup-store';
import type { Alert } from '../../src/core/ports';
import { startReceiver, type Receiver } from '../support/receiver';
import { sdkClients } from '../support/emulator';

const run = promisify(execFile);
const PROJECT_ROOT = path.resolve(__dirname, '../..');
const KEY = 'event-snapshot-key';

let root: string;
let stack: LocalStack;
let webhook: Receiver;
let keys: KeyClient;
let store: BlobBackupStore;

/** Alert settings shared by the dev host and the CLI: a working webhook, and a topic nobody listens on. */
function alertSettings(): Record<string, string> {
  return {
    KVGUARD_ALERT_WEBHOOK_URL: `${webhook.url}/alerts`,
    KVGUARD_ALERT_EVENTGRID_ENDPOINT: 'https://127.0.0.1:9/api/events',
    KVGUARD_ALERT_EVENTGRID_KEY: 'unused-key',
  };
}

beforeAll(async () => {
  webhook = await startReceiver();
  root = mkdtempSync(path.join(tmpdir(), 'kvguard-events-'));
  stack = await startLocalStack({
    root,
    ephemeralPorts: true,
    // KVGUARD_TEST_HOST_LOGS=1 shows the dev host's log lines when this test needs debugging.
    hostLogs: process.env.KVGUARD_TEST_HOST_LOGS === '1',
    // Timers must not fire on their own during the test: the watcher runs when the test says so.
    env: { ...alertSettings(), KVGUARD_WATCH_SCHEDULE: '0 0 0 1 1 *', KVGUARD_BACKUP_SCHEDULE: '0 0 0 1 1 *' },
  });
  const demo = stack.file.vaults[0]!;
  keys = sdkClients(demo.url, readFileSync(stack.file.caCertPath, 'utf8')).keys;
  const blobs = BlobServiceClient.fromConnectionString(stack.file.storage.connectionString);
  store = new BlobBackupStore({
    container: blobs.getContainerClient(stack.file.storage.container),
    immutability: 'container',
    retentionDays: 1,
  });
});

afterAll(async () => {
  await stack?.stop();
  await webhook?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `kvguard watch --once --json` in the stack's project folder, as a user would run it. */
async function watchOnce(): Promise<{
  vaults: { vault: string; status: string; deleted: { name: string }[]; purged: { name: string }[] }[];
}> {
  const { stdout } = await run(
    process.execPath,
    [path.join(PROJECT_ROOT, 'bin', 'kvguard.js'), 'watch', '--once', '--json'],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? root, ...alertSettings() },
    },
  );
  try {
    return JSON.parse(stdout);
  } catch {
    throw new Error(`kvguard watch --once --json printed more than one JSON document on stdout:\n${stdout}`);
  }
}

function alertsOf(type: string): Alert[] {
  return webhook.requests.map((r) => r.body as Alert).filter((a) => a.type === type && a.subject === `demo/key/${KEY}`);
}

describe('event-driven safety on the local stack', () => {
  it('snapshots a new key version automatically', async () => {
    const started = Date.now();
    await keys.createKey(KEY, 'EC');
    const backup = await until('the safety snapshot', () => store.latestBackup('demo', 'key', KEY));
    const latencyMs = Date.now() - started;
    expect(backup).toMatchObject({ vault: 'demo', type: 'key', name: KEY, versionCount: 1 });
    console.info(`[measure] new key version → stored snapshot: ${latencyMs} ms`);
  });

  it('alerts when the key is deleted, and critically when it is purged, on the next watcher run', async () => {
    expect((await watchOnce()).vaults[0]).toMatchObject({ vault: 'demo', status: 'ok' });
    const deletion = await keys.beginDeleteKey(KEY, { intervalInMs: 50 });
    await deletion.pollUntilDone();

    const afterDelete = await watchOnce();
    expect(afterDelete.vaults[0]!.deleted.map((f) => f.name)).toEqual([KEY]);
    const [deleted] = alertsOf('kvguard.ObjectDeleted');
    expect(deleted).toMatchObject({ severity: 'warning', data: { name: KEY, vault: 'demo' } });
    expect(deleted!.data.newestBackupAt).toEqual(expect.any(String));

    await keys.purgeDeletedKey(KEY);
    const afterPurge = await watchOnce();
    expect(afterPurge.vaults[0]!.purged.map((f) => f.name)).toEqual([KEY]);
    expect(alertsOf('kvguard.ObjectPurged')).toMatchObject([{ severity: 'critical' }]);
    expect(alertsOf('kvguard.ObjectDeleted')).toHaveLength(1);
  });
});
