import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevStackFile } from '../../dev/start';

const ROOT = path.resolve(__dirname, '..', '..');
// A hang detector, not a speed target: on 2 busy cores the stack takes far longer than on a quiet machine.
const READY_TIMEOUT_MS = 150_000;

describe('npm start (dev/start.ts)', () => {
  let devDir: string;
  let launcher: ChildProcess;
  let output = '';
  let outputClosed: Promise<void>;
  let stack: DevStackFile;

  beforeAll(async () => {
    devDir = mkdtempSync(path.join(tmpdir(), 'kvguard-start-'));
    // Own process group, so the test can list every process the stack left behind.
    launcher = spawn('npx', ['tsx', 'dev/start.ts'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KVGUARD_DEV_DIR: devDir, KVGUARD_DEV_PORTS: 'ephemeral', KVGUARD_DEV_LOGS: 'quiet' },
    });
    launcher.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    launcher.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    outputClosed = new Promise((resolve) => launcher.stdout!.once('close', () => resolve()));
    stack = await waitForDevJson(path.join(devDir, 'dev.json'), () => output);
  });

  afterAll(() => {
    if (launcher.pid && processesInGroup(launcher.pid).length > 0) process.kill(-launcher.pid, 'SIGKILL');
    rmSync(devDir, { recursive: true, force: true });
  });

  it('writes .kvguard/dev.json in the documented shape', () => {
    const url = expect.stringMatching(/^https:\/\/localhost:\d+\/$/);
    const subscription = '00000000-0000-0000-0000-000000000000';
    expect(stack.vaults).toEqual([
      { name: 'demo', url, subscription, location: 'westeurope' },
      { name: 'scratch', url, subscription, location: 'westeurope' },
      { name: 'dr', url, subscription, location: 'northeurope' },
      { name: 'offsite', url, subscription, location: 'eastus' },
    ]);
    // Drills go to the scratch vault; the scratch vault itself is not backed up.
    expect(stack.settings.KVGUARD_SCRATCH_VAULT).toBe(stack.vaults[1]!.url);
    expect(JSON.parse(stack.settings.KVGUARD_VAULTS!)).toEqual([
      { name: 'demo', url: stack.vaults[0]!.url, portable: true },
      { name: 'dr', url: stack.vaults[2]!.url },
      { name: 'offsite', url: stack.vaults[3]!.url },
    ]);
    expect(stack.settings.KVGUARD_PORTABLE_KEK).toBe(`${stack.vaults[3]!.url}keys/kvguard-kek`);
    expect(existsSync(stack.caCertPath)).toBe(true);
    expect(stack.caCertPath.startsWith(devDir)).toBe(true);
    expect(stack.storage).toMatchObject({
      connectionString: expect.stringContaining('AccountName=devstoreaccount1'),
      container: 'kvguard-backups',
    });
    expect(stack.host).toMatchObject({
      url: expect.stringMatching(/^http:\/\/localhost:\d+$/),
      functionKey: expect.any(String),
    });
    expect(stack.settings).toMatchObject({ KVGUARD_CREDENTIAL: 'emulator', KVGUARD_REQUIRE_PRINCIPAL: 'false' });
    expect(output).toContain('kvguard local stack ready');
  });

  it('serves the demo vault over TLS with the emulator CA, answering an anonymous call with the 401 challenge', async () => {
    const answer = await httpsGet(
      `${stack.vaults[0]!.url}keys?api-version=7.5`,
      readFileSync(stack.caCertPath, 'utf8'),
    );
    expect(answer.status).toBe(401);
    expect(answer.wwwAuthenticate).toMatch(/^Bearer authorization="?https:\/\//);
  });

  it('runs the dev host with function keys and the trigger queues created in Azurite', async () => {
    expect((await fetch(`${stack.host.url}/api/status`)).status).toBe(401);
    const queues: string[] = [];
    for await (const queue of QueueServiceClient.fromConnectionString(stack.storage.connectionString).listQueues())
      queues.push(queue.name);
    expect(queues).toContain(stack.settings.KVGUARD_BACKUP_QUEUE);
  });

  it('stops every part when its launcher gets SIGTERM: no process left, ports free, dev.json gone', async () => {
    const ports = [
      ...stack.vaults.map((vault) => vault.url),
      stack.storage.blobUrl,
      stack.storage.queueUrl,
      stack.host.url,
    ].map((url) => Number(new URL(url).port));
    launcher.kill('SIGTERM');
    await outputClosed;
    expect(output).toContain('kvguard local stack stopped');
    expect(await eventually(() => processesInGroup(launcher.pid!).length === 0)).toBe(true);
    for (const port of ports) expect(await isFree(port)).toBe(true);
    expect(existsSync(path.join(devDir, 'dev.json'))).toBe(false);
    expect(existsSync(path.join(devDir, 'emulator'))).toBe(true);
  });
});

async function waitForDevJson(file: string, output: () => string): Promise<DevStackFile> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevStackFile;
    if (output().includes('npm start failed')) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`dev.json not written; output:\n${output()}`);
}

function httpsGet(url: string, ca: string): Promise<{ status: number; wwwAuthenticate?: string }> {
  return new Promise((resolve, reject) => {
    const call = request(url, { ca }, (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, wwwAuthenticate: response.headers['www-authenticate'] });
    });
    call.on('error', reject);
    call.end();
  });
}

function processesInGroup(groupId: number): number[] {
  const table = execFileSync('ps', ['-eo', 'pid=,pgid='], { encoding: 'utf8' });
  return table
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([pid, pgid]) => pgid === groupId && pid !== undefined)
    .map(([pid]) => pid!);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, () => probe.close(() => resolve(true)));
  });
}

async function eventually(condition: () => boolean, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}
