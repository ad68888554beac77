import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { runKvguard } from '../support/cli';
import { sdkClients, startTestEmulator, type TestEmulator } from '../support/emulator';

let emulator: TestEmulator;
let azurite: TestAzurite;
let env: NodeJS.ProcessEnv;

/** Runs `kvguard` with this file's settings unless the test names others. */
function kvguard(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  return runKvguard(args, { env: options.env ?? env, cwd: options.cwd });
}

beforeAll(async () => {
  [emulator, azurite] = await Promise.all([startTestEmulator(), startTestAzurite()]);
  const clients = sdkClients(emulator.url, emulator.caCertPem);
  await Promise.all([
    clients.keys.createEcKey('cli-key', { curve: 'P-256' }),
    clients.secrets.setSecret('cli-secret', 'never-printed-value'),
  ]);
  env = {
    PATH: process.env.PATH,
    KVGUARD_VAULTS: JSON.stringify([{ url: emulator.url, name: 'clivault' }]),
    KVGUARD_STORAGE: azurite.connectionString,
    KVGUARD_CONTAINER: uniqueStorageName('cli'),
    KVGUARD_CREDENTIAL: 'emulator',
    KVGUARD_KEYVAULT_CA_CERT: emulator.caCertPath,
  };
});

afterAll(async () => {
  await Promise.all([emulator?.stop(), azurite?.stop()]);
});

describe('the kvguard CLI', () => {
  it('backs up with --json: one JSON document on stdout; a second run reports every object unchanged', async () => {
    const first = await kvguard(['backup', '--json']);
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout) as { counts: unknown; runs: { runId: string; summaryBlob?: string }[] };
    expect(report.counts).toEqual({ stored: 2, unchanged: 0, failed: 0 });
    expect(report.runs[0]?.runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);

    const second = await kvguard(['backup', '--vault', emulator.url, '--json']);
    expect(JSON.parse(second.stdout)).toMatchObject({ counts: { stored: 0, unchanged: 2, failed: 0 } });
    expect(first.stdout + first.stderr + second.stdout + second.stderr).not.toContain('never-printed-value');
  });

  it('lists the catalog and reports status as the HTTP API does', async () => {
    const listed = await kvguard(['list', '--vault', 'clivault', '--type', 'secrets', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({
      items: [expect.objectContaining({ vault: 'clivault', type: 'secret', name: 'cli-secret' })],
    });

    const status = await kvguard(['status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      rpoBreached: false,
      vaults: [{ vault: 'clivault', rpoBreached: false }],
    });
  });

  it('exits non-zero with a one-line reason naming the bad flag and value', async () => {
    const [unknown, badFlag, badType] = await Promise.all([
      kvguard(['backup', '--vault', 'https://nope.vault.azure.net/', '--json']),
      kvguard(['runs', '--colour', '--json']),
      kvguard(['list', '--type', 'blob']),
    ]);
    expect(unknown.code).toBe(1);
    // Under --json the failure is also one JSON document on stdout, shaped like the HTTP API's errors.
    expect(JSON.parse(unknown.stdout)).toEqual({
      error: {
        code: 'ValidationError',
        message: '--vault "https://nope.vault.azure.net/" is not a configured vault',
        field: 'vault',
      },
    });
    expect(unknown.stderr.trim().split('\n')).toEqual([
      'kvguard: ValidationError: --vault "https://nope.vault.azure.net/" is not a configured vault',
    ]);

    expect(badFlag.code).toBe(1);
    expect(JSON.parse(badFlag.stdout)).toEqual({
      error: { code: 'ValidationError', message: "unknown option '--colour'" },
    });
    expect(badFlag.stderr.split('\n')[0]).toBe("kvguard: unknown option '--colour'");

    expect(badType).toMatchObject({
      code: 1,
      stderr: 'kvguard: ValidationError: --type "blob" must be key, secret or certificate\n',
    });
  });

  it('lists the runs and explains each object of one, and answers --version', async () => {
    const runs = await kvguard(['runs', '--vault', 'clivault', '--json']);
    expect(runs.code).toBe(0);
    const page = JSON.parse(runs.stdout) as { items: { runId: string; outcome: string }[] };
    expect(page.items.map((r) => r.outcome)).toEqual(['succeeded', 'succeeded']);
    const shown = await kvguard(['runs', 'show', page.items[1]!.runId, '--json']);
    expect(shown.code).toBe(0);
    const objects = (JSON.parse(shown.stdout) as { chunks: { objects: { name: string; outcome: string }[] }[] }).chunks
      .flatMap((c) => c.objects)
      .map((o) => [o.name, o.outcome])
      .sort();
    expect(objects).toEqual([
      ['cli-key', 'stored'],
      ['cli-secret', 'stored'],
    ]);
    const [text, alerts, restores, version] = await Promise.all([
      kvguard(['runs', 'show', page.items[0]!.runId]),
      kvguard(['alerts', '--json']),
      kvguard(['restores', '--json']),
      kvguard(['--version']),
    ]);
    expect(text.stdout).toMatch(/unchanged +key cli-key \(1 version\(s\), \d+ ms\): versions match the newest backup/);
    expect(JSON.parse(alerts.stdout)).toEqual({ pending: 0, parked: 0, items: [] });
    expect(JSON.parse(restores.stdout)).toMatchObject({ items: [] });
    expect(version).toMatchObject({ code: 0, stdout: `${(await import('../../package.json')).version}\n` });
  });

  it('uses .kvguard/dev.json of the local stack when no vault is configured, and says what is missing otherwise', async () => {
    const project = mkdtempSync(join(tmpdir(), 'kvguard-cli-'));
    const bare = { PATH: process.env.PATH };
    const missing = await kvguard(['status'], { env: bare, cwd: project });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^kvguard: InvalidConfiguration: No vaults configured: set KVGUARD_VAULTS/);

    mkdirSync(join(project, '.kvguard'));
    writeFileSync(
      join(project, '.kvguard', 'dev.json'),
      JSON.stringify({
        vaults: [{ name: 'clivault', url: emulator.url }],
        caCertPath: emulator.caCertPath,
        storage: { connectionString: azurite.connectionString, container: env.KVGUARD_CONTAINER },
        host: { url: 'http://localhost:7071', functionKey: 'unused' },
      }),
    );
    const local = await kvguard(['status', '--json'], { env: bare, cwd: project });
    expect(local.code).toBe(0);
    expect(JSON.parse(local.stdout)).toMatchObject({ vaults: [{ vault: 'clivault', rpoBreached: false }] });
  });
});

describe('kvguard doctor on the local stack', () => {
  it('reports each check with its outcome, and says which ones Azurite and the emulator cannot answer', async () => {
    await kvguard(['backup', '--json']); // the backup container exists once something was backed up
    const result = await kvguard(['doctor', '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      counts: Record<string, number>;
      checks: { check: string; subject: string; outcome: string; detail: string; fix?: string }[];
    };
    const outcome = (check: string, subject?: string) =>
      report.checks.find((c) => c.check === check && (subject === undefined || c.subject === subject));
    expect(report.ok).toBe(true);
    expect(outcome('vault.list', 'clivault')).toMatchObject({ outcome: 'pass' });
    expect(outcome('vault.backup', 'clivault')).toMatchObject({
      outcome: 'pass',
      detail: expect.stringMatching(/bytes, not stored/),
    });
    expect(outcome('vault.permissionModel', 'clivault')).toMatchObject({ outcome: 'unknown', fix: expect.any(String) });
    expect(outcome('storage.container', env.KVGUARD_CONTAINER)).toMatchObject({ outcome: 'pass' });
    expect(outcome('storage.immutability')).toMatchObject({
      outcome: 'unknown',
      detail: expect.stringContaining('Azurite'),
    });
    expect(outcome('storage.tamperProof')).toMatchObject({
      outcome: 'unknown',
      detail: expect.stringContaining('Azurite'),
    });
    expect(outcome('alerts.sinks')).toMatchObject({
      outcome: 'warn',
      fix: expect.stringContaining('KVGUARD_ALERT_WEBHOOK_URL'),
    });
    expect(report.checks.filter((c) => c.check === 'queue').map((c) => c.subject)).toEqual([
      'kvguard-backup-jobs',
      'kvguard-restore-jobs',
    ]);
    expect(Object.values(report.counts).reduce((a, b) => a + b, 0)).toBe(report.checks.length);
    expect(result.stdout).not.toContain('never-printed-value');
  });

  it('fails, naming the fix, when the vault cannot be reached or the container is missing', async () => {
    const broken = await kvguard(['doctor'], {
      env: { ...env, KVGUARD_CONTAINER: uniqueStorageName('missing'), KVGUARD_CREATE_CONTAINERS: 'false' },
    });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/FAIL storage\.container missing-\S+: the backup container does not exist/);
    expect(broken.stdout).toMatch(/fix: run azd provision: the infra creates it/);
    expect(broken.stderr).toBe('kvguard: 1 check(s) failed\n');
  });
});
