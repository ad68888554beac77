// The two ways of backing up a vault that kvguard is compared with, each in its own process like kvguard:
// - `sequential`: the loop from the Key Vault docs (list, then await each backup and its upload in turn);
// - `naive`: list everything, then back every object up at once with Promise.all.
// Both use the unchanged SDK clients with their default retry policy (which retries a 429 only when Retry-After is
// present) and store each backup in Azurite. argv[2] is a JSON task; one JSON result goes to stdout.
import { BlobServiceClient } from '@azure/storage-blob';
import { emulatorSdkClients } from '../dev/emulator/clients';

interface BaselineTask {
  mode: 'sequential' | 'naive';
  vaultUrl: string;
  caCertPem: string;
  storage: string;
  container: string;
}

interface Named {
  type: 'key' | 'secret';
  name: string;
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2]!) as BaselineTask;
  const { keys, secrets } = emulatorSdkClients(task.vaultUrl, task.caCertPem);
  const container = BlobServiceClient.fromConnectionString(task.storage).getContainerClient(task.container);
  await container.createIfNotExists();
  const backupOne = async ({ type, name }: Named): Promise<void> => {
    const bytes = type === 'key' ? await keys.backupKey(name) : await secrets.backupSecret(name);
    if (!bytes) throw new Error(`empty backup of ${type} ${name}`);
    await container.getBlockBlobClient(`${type}/${name}/${Date.now()}.kvbak`).uploadData(bytes);
  };
  const started = performance.now();
  let stored = 0;
  let failures = 0;
  if (task.mode === 'sequential') {
    for await (const p of keys.listPropertiesOfKeys()) {
      await backupOne({ type: 'key', name: p.name }).then(
        () => stored++,
        () => failures++,
      );
    }
    for await (const p of secrets.listPropertiesOfSecrets()) {
      await backupOne({ type: 'secret', name: p.name }).then(
        () => stored++,
        () => failures++,
      );
    }
  } else {
    const all: Named[] = [];
    for await (const p of keys.listPropertiesOfKeys()) all.push({ type: 'key', name: p.name });
    for await (const p of secrets.listPropertiesOfSecrets()) all.push({ type: 'secret', name: p.name });
    const outcomes = await Promise.allSettled(all.map(backupOne));
    stored = outcomes.filter((o) => o.status === 'fulfilled').length;
    failures = outcomes.length - stored;
  }
  const wallMs = performance.now() - started;
  process.stdout.write(`${JSON.stringify({ wallMs, stored, failures })}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`baseline failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
