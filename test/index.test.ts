import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const registered: { kind: string; name: string; options: Record<string, unknown> }[] = [];

// The Functions runtime is not here: capture what src/index.ts asks it to register.
vi.mock('@azure/functions', async (importActual) => {
  const actual = await importActual<typeof import('@azure/functions')>();
  const capture = (kind: string) => (name: string, options: Record<string, unknown>) =>
    void registered.push({ kind, name, options });
  return {
    ...actual,
    app: {
      ...actual.app,
      setup: () => {},
      http: capture('http'),
      timer: capture('timer'),
      storageQueue: capture('storageQueue'),
      eventGrid: capture('eventGrid'),
    },
  };
});

describe('the Azure Functions entry point', () => {
  afterEach(() => {
    registered.length = 0;
    vi.unstubAllEnvs();
  });

  it('registers every function definition, with %SETTING% triggers resolved (defaults when unset)', async () => {
    vi.stubEnv('KVGUARD_BACKUP_SCHEDULE', '0 30 2 * * *');
    const { functionDefinitions } = await import('../src/functions');
    await import('../src/index');
    expect(registered.map((r) => r.name).sort()).toEqual(functionDefinitions.map((d) => d.name).sort());
    const byName = Object.fromEntries(registered.map((r) => [r.name, r]));
    expect(byName.scheduleBackups).toMatchObject({ kind: 'timer', options: { schedule: '0 30 2 * * *' } });
    expect(byName.watchDeletions).toMatchObject({ kind: 'timer', options: { schedule: '0 */5 * * * *' } });
    expect(byName.backupVault).toMatchObject({
      kind: 'storageQueue',
      options: { queueName: 'kvguard-backup-jobs', connection: 'KVGUARD_STORAGE' },
    });
    expect(byName.vaultEvents).toMatchObject({ kind: 'eventGrid' });
    expect(byName.restore).toMatchObject({
      kind: 'http',
      options: { route: 'restore', methods: ['POST'], authLevel: 'function' },
    });
    for (const { options } of registered) expect(JSON.stringify(options)).not.toContain('%');
  });

  it('loads no Azure SDK but @azure/functions on import, with or without App Insights: they wait for first use', () => {
    // A fresh process, as the Functions host imports the entry module: which packages does that import load?
    const script = `require('./src/index.ts');
      const packages = Object.keys(require.cache).map((file) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(file)?.[1]);
      process.stdout.write(JSON.stringify([...new Set(packages.filter(Boolean))]));`;
    for (const insights of [undefined, 'InstrumentationKey=00000000-0000-0000-0000-000000000000']) {
      const env = { ...process.env, APPLICATIONINSIGHTS_CONNECTION_STRING: insights };
      const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
        cwd: join(__dirname, '..'),
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const loaded = JSON.parse(out.toString()) as string[];
      expect(loaded).toContain('@azure/functions');
      // @azure/functions brings its own small extensions package; every other @azure/* is an SDK kvguard calls.
      expect(loaded.filter((name) => name.startsWith('@azure/') && !name.startsWith('@azure/functions'))).toEqual([]);
      expect(loaded).not.toContain('applicationinsights');
    }
  });
});
