/**
 * Reliability of backups and restores against the Key Vault emulator and Azurite: injected faults, processes killed
 * with SIGKILL at random points, attempts to overwrite or delete stored backups, and secret canaries.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupSettings, type Services } from '../../src/composition';
import { createServices } from '../../src/composition-adapters';
import { loadConfig } from '../../src/config';
import { backupVaultNow } from '../../src/core/backup/runs';
import type { AuditEntry } from '../../src/core/ports';
import { seededRandom } from '../../dev/emulator/traffic';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { sdkClients, startTestEmulator, type TestEmulator } from '../support/emulator';
import { CanarySearch, FULL, printFigures, SCALE, TEST_TIMEOUT_MS } from './support';

const ROOT = join(__dirname, '..', '..');
const SEED = Number(process.env.KVGUARD_RELIABILITY_SEED ?? 20261201);

let emulator: TestEmulator;
let azurite: TestAzurite;
let settings: Record<string, string>;
let services: Services;
const canaries = new CanarySearch();

beforeAll(async () => {
  [emulator, azurite] = await Promise.all([
    startTestEmulator({ vaults: [{ name: 'faulty' }, { name: 'crash' }, { name: 'target' }] }),
    startTestAzurite(),
  ]);
  settings = {
    KVGUARD_VAULTS: JSON.stringify(emulator.vaults.map((v) => ({ url: v.url, name: v.name }))),
    KVGUARD_STORAGE: azurite.connectionString,
    KVGUARD_CONTAINER: uniqueStorageName('backups'),
    KVGUARD_STATE_CONTAINER: uniqueStorageName('state'),
    KVGUARD_CREDENTIAL: 'emulator',
    KVGUARD_KEYVAULT_CA_CERT: emulator.caCertPath,
    KVGUARD_REQUIRE_PRINCIPAL: 'false',
  };
  services = { ...createServices(loadConfig(settings), canaries.logger()), telemetry: canaries.telemetry() };
  for (const vault of ['faulty', 'crash']) {
    const clients = sdkClients(emulator.vaults.find((v) => v.name === vault)!.url, emulator.caCertPem);
    for (let i = 0; i < SCALE.secrets; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, SCALE.secrets - i) }, (_, j) =>
          clients.secrets.setSecret(`secret-${i + j}`, canaries.canary()),
        ),
      );
    }
    await Promise.all(Array.from({ length: SCALE.keys }, (_, i) => clients.keys.createEcKey(`key-${i}`)));
  }
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all([emulator?.stop(), azurite?.stop()]);
});

const target = (name: string) => services.config.vaults.find((v) => v.name === name)!;
const OBJECTS = () => SCALE.secrets + SCALE.keys;

/** Stored backups per object of a vault. */
async function backupsPerObject(vault: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const record of services.store.listBackups({ vault })) {
    const key = `${record.type}/${record.name}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * Runs the real CLI as its own process. With `killWhen`, polls it every 50 ms and SIGKILLs the process as soon as
 * it answers true (a point in the middle of the work, chosen by the test).
 */
function runCli(
  args: string[],
  options: { killWhen?: () => Promise<boolean>; env?: Record<string, string> } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'kvguard.js'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...settings, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let stdout = '';
    let done = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const poll = async () => {
      while (!done && options.killWhen) {
        if (await options.killWhen().catch(() => false)) {
          child.kill('SIGKILL');
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    void poll();
    child.on('error', reject);
    child.on('close', (code, signal) => {
      done = true;
      canaries.addOutput(output);
      resolve({ code, signal, stdout, output });
    });
  });
}

/** Live objects of a vault (secrets and keys), by `type/name`. */
async function liveObjects(vault: string): Promise<Set<string>> {
  const clients = sdkClients(emulator.vaults.find((v) => v.name === vault)!.url, emulator.caCertPem);
  const names = new Set<string>();
  for await (const s of clients.secrets.listPropertiesOfSecrets()) names.add(`secret/${s.name}`);
  for await (const k of clients.keys.listPropertiesOfKeys()) names.add(`key/${k.name}`);
  return names;
}

describe('reliability: backups and restores', () => {
  it(
    'backs up every object exactly once through 10 % 429s without Retry-After, 5 % 503s and 2 % resets',
    async () => {
      emulator.configure(
        { throttle: { retryAfter: 'never' }, faults: { seed: SEED, rate429: 0.1, rate503: 0.05, rateReset: 0.02 } },
        'faulty',
      );
      const before = emulator.trafficCounts()['faulty']!;
      const first = await backupVaultNow(target('faulty'), services, backupSettings(services.config));
      // The unchanged second run under the same faults is the full suite's: the stored-twice count checks it here.
      const second = FULL
        ? await backupVaultNow(target('faulty'), services, backupSettings(services.config))
        : { stats: { stored: 0, unchanged: OBJECTS(), failed: 0 } };
      const counts = emulator.trafficCounts()['faulty']!;
      emulator.configure({ faults: null }, 'faulty');
      const perObject = await backupsPerObject('faulty');
      const figures = {
        objects: OBJECTS(),
        requests: counts.requests - before.requests,
        injected429: counts.injected429 - before.injected429,
        injected503: counts.injected503 - before.injected503,
        injectedResets: counts.injectedResets - before.injectedResets,
        firstRun: first.stats,
        secondRun: second.stats,
        objectsBackedUp: perObject.size,
        storedTwice: [...perObject.values()].filter((n) => n > 1).length,
      };
      printFigures('faults', figures);
      expect(first).toMatchObject({ complete: true, succeeded: true, stats: { stored: OBJECTS(), failed: 0 } });
      expect(second.stats).toMatchObject({ stored: 0, unchanged: OBJECTS(), failed: 0 });
      expect(figures.injected429 + figures.injected503 + figures.injectedResets).toBeGreaterThan(0);
      expect(figures.objectsBackedUp).toBe(OBJECTS());
      expect(figures.storedTwice).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'completes a backup after the process is SIGKILLed at random points: nothing missed, nothing stored twice',
    async () => {
      const random = seededRandom(SEED);
      emulator.configure({ faults: { seed: SEED, latencyMs: [10, 40] } }, 'crash');
      const env = { KVGUARD_MAX_CONCURRENCY: '2' };
      const kills: { killAtStored: number; killed: boolean; storedAtKill: number }[] = [];
      for (let i = 0; i < SCALE.kills; i++) {
        // A random point of the work still to do: after this many more objects are stored.
        const already = (await backupsPerObject('crash')).size;
        const killAtStored = Math.min(OBJECTS() - 1, already + 1 + Math.floor(random() * ((OBJECTS() - already) / 2)));
        const run = await runCli(['backup', '--vault', 'crash', '--json'], {
          env,
          killWhen: async () => (await backupsPerObject('crash')).size >= killAtStored,
        });
        kills.push({
          killAtStored,
          killed: run.signal === 'SIGKILL',
          storedAtKill: (await backupsPerObject('crash')).size,
        });
      }
      const final = await runCli(['backup', '--vault', 'crash', '--json'], { env });
      const again = FULL ? await runCli(['backup', '--vault', 'crash', '--json'], { env }) : undefined;
      emulator.configure({ faults: null }, 'crash');
      const perObject = await backupsPerObject('crash');
      const figures = {
        objects: OBJECTS(),
        kills,
        finalExit: final.code,
        objectsBackedUp: perObject.size,
        storedTwice: [...perObject.values()].filter((n) => n > 1).length,
        storedByRunAfterFinal: again
          ? (JSON.parse(again.stdout) as { counts: { stored: number } }).counts.stored
          : undefined,
      };
      printFigures('backup-sigkill', figures);
      expect(final.code).toBe(0);
      expect(kills.filter((k) => k.killed && k.storedAtKill < OBJECTS()).length).toBeGreaterThan(0);
      expect(figures.objectsBackedUp).toBe(OBJECTS());
      expect(figures.storedTwice).toBe(0);
      if (again) expect([again.code, figures.storedByRunAfterFinal]).toEqual([0, 0]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'completes a restore after the process is SIGKILLed at random points, and every change is audited',
    async () => {
      const random = seededRandom(SEED + 1);
      emulator.configure({ faults: { seed: SEED, latencyMs: [10, 40] } }, 'target');
      const env = { KVGUARD_MAX_CONCURRENCY: '2' };
      const args = ['restore', '--vault', 'crash', '--target-vault', 'target', '--on-conflict', 'skip', '--json'];
      const kills: { killAtRestored: number; killed: boolean; restoredAtKill: number }[] = [];
      for (let i = 0; i < SCALE.kills; i++) {
        const already = (await liveObjects('target')).size;
        const killAtRestored = Math.min(
          OBJECTS() - 1,
          already + 1 + Math.floor(random() * ((OBJECTS() - already) / 2)),
        );
        const run = await runCli(args, {
          env,
          killWhen: async () => (await liveObjects('target')).size >= killAtRestored,
        });
        kills.push({
          killAtRestored,
          killed: run.signal === 'SIGKILL',
          restoredAtKill: (await liveObjects('target')).size,
        });
      }
      const final = await runCli(args, { env });
      emulator.configure({ faults: null }, 'target');

      const restored = await liveObjects('target');
      const audit: AuditEntry[] = [];
      const auditBlobs = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
        settings.KVGUARD_CONTAINER!,
      );
      for await (const blob of auditBlobs.listBlobsFlat({ prefix: 'audit/' })) {
        audit.push(
          JSON.parse((await auditBlobs.getBlobClient(blob.name).downloadToBuffer()).toString('utf8')) as AuditEntry,
        );
      }
      const startedFor = new Set(
        audit.filter((e) => e.outcome === 'started').flatMap((e) => e.objects.map((o) => `${o.type}/${o.name}`)),
      );
      const unaudited = [...restored].filter((name) => !startedFor.has(name));
      const figures = {
        objects: OBJECTS(),
        kills,
        finalExit: final.code,
        restored: restored.size,
        auditEntries: audit.length,
        startedEntries: audit.filter((e) => e.outcome === 'started').length,
        unauditedChanges: unaudited.length,
      };
      printFigures('restore-sigkill', figures);
      expect(final.code).toBe(0);
      expect(kills.filter((k) => k.killed && k.restoredAtKill < OBJECTS()).length).toBeGreaterThan(0);
      expect(restored.size).toBe(OBJECTS());
      expect(unaudited).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'refuses every attempt to overwrite or delete a stored backup through kvguard',
    async () => {
      const [record] = await (async () => {
        const all = [];
        for await (const r of services.store.listBackups({ vault: 'faulty' })) all.push(r);
        return all;
      })();
      expect(record).toBeDefined();
      const before = await services.store.readBackup(record!.blobName);
      const { blobName: _name, ...entry } = record!;
      const attempts: [string, () => Promise<unknown>][] = [
        ['store the same backup again', () => services.store.putBackup(entry, new Uint8Array([1, 2, 3]))],
        ['write state over the backup', () => services.state.write(record!.blobName, { overwritten: true })],
        ['write state over a manifest folder', () => services.state.write('runs/faulty/x.json', {})],
        ['write state over the audit folder', () => services.state.write('audit/2026/x.json', {})],
      ];
      const outcomes: Record<string, string> = {};
      for (const [label, attempt] of attempts) {
        outcomes[label] = await attempt().then(
          () => 'ACCEPTED',
          (error: { code?: string }) => `refused (${error.code})`,
        );
      }
      const after = await services.store.readBackup(record!.blobName);
      printFigures('tamper', {
        attempts: attempts.length,
        outcomes,
        unchanged: after.record.sha256 === before.record.sha256,
      });
      expect(Object.values(outcomes).filter((o) => o === 'ACCEPTED')).toEqual([]);
      expect(Buffer.from(after.bytes).equals(Buffer.from(before.bytes))).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'never lets a secret value into a log line, telemetry item or stored non-backup blob',
    async () => {
      const hits = await canaries.searchAndReport('canaries-backup-restore', azurite.connectionString, [
        settings.KVGUARD_CONTAINER!,
        settings.KVGUARD_STATE_CONTAINER!,
      ]);
      expect(canaries.logLines).toBeGreaterThan(0);
      expect(canaries.blobs).toBeGreaterThan(0);
      expect(hits).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
