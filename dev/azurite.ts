import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const DEV_ACCOUNT_NAME = 'devstoreaccount1';
/** The well-known key of {@link DEV_ACCOUNT_NAME}. */
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** Options of {@link startAzurite}. */
export interface AzuriteOptions {
  /** Blob port; 0 (default) picks a free one. */
  blobPort?: number;
  /** Queue port; 0 (default) picks a free one. */
  queuePort?: number;
  /** Folder that persists Azurite's data; without it, everything stays in memory. */
  location?: string;
  /** How long to wait for both services to listen (default 20 s). */
  startTimeoutMs?: number;
  /**
   * Serve HTTPS with this PEM certificate and key and accept Entra ID bearer tokens (`--oauth basic`: Azurite checks
   * a token's issuer, audience and lifetime, not its signature), so identity-based clients can be tested.
   */
  oauth?: { certPath: string; keyPath: string };
}

/** A running Azurite child process (Blob and Queue services). */
export interface RunningAzurite {
  /** Blob endpoint including the account, e.g. `http://127.0.0.1:10000/devstoreaccount1`. */
  blobUrl: string;
  /** Queue endpoint including the account. */
  queueUrl: string;
  /** Storage connection string for the development account, with both endpoints. */
  connectionString: string;
  /** Process id of the Azurite child. */
  pid: number;
  /** Stops Azurite and waits until its process has exited. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 3_000;

/**
 * Runs Azurite (argv[1]) and exits when its stdin closes. The OS closes that pipe when our process dies in any
 * way, even SIGKILL (which no exit hook sees), so Azurite never outlives the process that started it.
 */
const EXIT_WITH_PARENT = [
  "process.stdin.on('end', () => process.exit(0));",
  "process.stdin.on('error', () => process.exit(0));",
  'process.stdin.resume();',
  // Unref'd, so the pipe never keeps Azurite alive after its own SIGTERM shutdown.
  'process.stdin.unref();',
  'require(process.argv[1]);',
].join(' ');
const running = new Set<ChildProcess>();

// A crashed test worker or an unhandled error must not leave Azurite behind holding its ports.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Builds the connection string of the development account for the given endpoints. */
export function devConnectionString(blobUrl: string, queueUrl: string): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${DEV_ACCOUNT_NAME}`,
    `AccountKey=${DEV_ACCOUNT_KEY}`,
    `BlobEndpoint=${blobUrl}`,
    `QueueEndpoint=${queueUrl}`,
  ].join(';');
}

/**
 * Starts Azurite (npm `azurite`) as a child process and resolves once Blob and Queue listen.
 * Ports default to 0; the real ones are read from Azurite's "successfully listening at" lines.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const child = spawn(process.execPath, ['-e', EXIT_WITH_PARENT, '--', azuriteEntryPoint(), ...azuriteArgs(options)], {
    cwd: options.location ?? tmpdir(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  const stop = () => stopChild(child, exited);
  try {
    const ports = await listeningUrls(child, options.startTimeoutMs ?? 20_000);
    const blobUrl = `${ports.blob}/${DEV_ACCOUNT_NAME}`;
    const queueUrl = `${ports.queue}/${DEV_ACCOUNT_NAME}`;
    return { blobUrl, queueUrl, connectionString: devConnectionString(blobUrl, queueUrl), pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function azuriteEntryPoint(): string {
  const packageDir = path.dirname(require.resolve('azurite/package.json'));
  return path.join(packageDir, 'dist', 'src', 'azurite.js');
}

function azuriteArgs(options: AzuriteOptions): string[] {
  const args = [
    '--blobPort',
    String(options.blobPort ?? 0),
    '--queuePort',
    String(options.queuePort ?? 0),
    // The combined binary always starts Table too; keep it off fixed ports so it never collides.
    '--tablePort',
    '0',
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--loose',
    '--silent',
  ];
  if (options.oauth) args.push('--cert', options.oauth.certPath, '--key', options.oauth.keyPath, '--oauth', 'basic');
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  return args;
}

function listeningUrls(child: ChildProcess, timeoutMs: number): Promise<{ blob: string; queue: string }> {
  return new Promise((resolve, reject) => {
    const found: { blob?: string; queue?: string } = {};
    let output = '';
    const timer = setTimeout(() => fail(`Azurite did not start within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      for (const match of output.matchAll(
        /Azurite (Blob|Queue) service is successfully listening at (https?:\/\/\S+)/g,
      )) {
        found[match[1] === 'Blob' ? 'blob' : 'queue'] = match[2]!.replace(/\/+$/, '');
      }
      if (found.blob && found.queue) {
        finish();
        resolve({ blob: found.blob, queue: found.queue });
      }
    };
    const onExit = (code: number | null) => fail(`Azurite exited (code ${code}) before listening`);
    function finish() {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      // Keep draining so a chatty child never blocks on a full pipe.
      child.stdout!.resume();
      child.stderr!.resume();
    }
    function fail(reason: string) {
      finish();
      const tail = output.split('\n').slice(-5).join('\n').trim();
      reject(new Error(tail ? `${reason}: ${tail}` : reason));
    }
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', onExit);
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(killer);
}
