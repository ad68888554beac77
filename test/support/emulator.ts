/**
 * Test helpers for the Key Vault emulator: start one on ephemeral ports with a temporary data folder, and build
 * unchanged Azure SDK clients that trust its CA.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKeyVaultEmulator, type EmulatorOptions, type RunningEmulator } from '../../dev/emulator';

/** A started test emulator; `stop()` also removes its temporary data folder. */
export type TestEmulator = RunningEmulator & { dataDir: string; url: string };

/**
 * Starts an emulator for a test: temporary `dataDir`, ephemeral ports, `pendingMs` 20 and `purgeConflictMs` 50
 * unless given. `url` is the first vault's URL (vault `test` by default).
 */
export async function startTestEmulator(options: Partial<EmulatorOptions> = {}): Promise<TestEmulator> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'kvguard-emulator-'));
  const emulator = await startKeyVaultEmulator({
    vaults: [{ name: 'test' }],
    pendingMs: 20,
    purgeConflictMs: 50,
    ...options,
    dataDir,
  });
  const stop = emulator.stop.bind(emulator);
  return {
    ...emulator,
    dataDir,
    url: emulator.vaults[0]!.url,
    async stop() {
      await stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export {
  emulatorClientOptions,
  emulatorSdkClients as sdkClients,
  emulatorTokenCredential as staticTestCredential,
} from '../../dev/emulator/clients';

/** A raw HTTPS answer from the emulator (for requests the SDKs would never send). */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

/**
 * Sends one raw HTTPS request to an emulator vault, with a bearer token unless `token: null`.
 * @param vaultUrl - the vault URL
 * @param path - path and query, e.g. `/keys/a?api-version=2025-07-01`
 */
export async function rawRequest(
  vaultUrl: string,
  caCertPem: string,
  path: string,
  init: { method?: string; body?: string; token?: string | null; headers?: Record<string, string> } = {},
): Promise<RawAnswer> {
  const { request } = await import('node:https');
  const url = new URL(path, vaultUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method ?? 'GET',
        ca: caCertPem,
        agent: false,
        headers: {
          ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? 'kvguard-local-token'}` }),
          ...(init.body !== undefined
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(init.body) }
            : {}),
          ...init.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
      },
    );
    req.on('error', reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}
