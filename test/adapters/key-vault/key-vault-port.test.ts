import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyVaultPortFactory, type KeyVaultPortFactoryOptions } from '../../../src/adapters/key-vault';
import { emulatorCredential } from '../../../src/adapters/credential';
import { mapWithConcurrency } from '../../../src/core/concurrency';
import { isKvGuardError } from '../../../src/core/errors';
import { sdkClients, startTestEmulator, type TestEmulator } from '../../support/emulator';
import { RecordingLogger, RecordingTelemetry } from '../../support/in-memory';

const POLL = { intervalInMs: 10 };
let emulator: TestEmulator;
let clients: ReturnType<typeof sdkClients>;

function factory(overrides: Partial<KeyVaultPortFactoryOptions> = {}) {
  return createKeyVaultPortFactory({
    credential: emulatorCredential,
    caCertPem: emulator.caCertPem,
    maxConcurrency: 8,
    ceilingPerSecond: () => 1_000,
    logger: new RecordingLogger(),
    telemetry: new RecordingTelemetry(),
    retry: { baseDelayMs: 10, maxDelayMs: 200 },
    poll: { initialMs: 10, maxMs: 50 },
    ...overrides,
  });
}

const keyNames = Array.from({ length: 30 }, (_, i) => `key-${String(i).padStart(2, '0')}`);
const secretNames = Array.from({ length: 20 }, (_, i) => `secret-${String(i).padStart(2, '0')}`);

beforeAll(async () => {
  emulator = await startTestEmulator();
  clients = sdkClients(emulator.url, emulator.caCertPem);
  await mapWithConcurrency(keyNames, 8, (name) => clients.keys.createEcKey(name, { tags: { n: name } }));
  await mapWithConcurrency(secretNames, 8, (name) => clients.secrets.setSecret(name, `value-of-${name}`));
  await (
    await clients.certificates.beginCreateCertificate('web-cert', { issuerName: 'Self', subject: 'CN=web' }, POLL)
  ).pollUntilDone();
});

afterAll(async () => {
  await emulator?.stop();
});

describe('Key Vault adapter against the emulator', () => {
  it('lists every key page by page with continuation tokens, flagging the certificate-managed key', async () => {
    const vault = factory().open(emulator.url);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await vault.listObjects('key', { pageSize: 10, continuationToken: token });
      seen.push(...page.items.map((k) => k.name));
      token = page.continuationToken;
      pages += 1;
      if (page.items.some((k) => k.name === 'web-cert'))
        expect(page.items.find((k) => k.name === 'web-cert')?.managed).toBe(true);
    } while (token);
    expect(pages).toBe(4);
    expect(seen.sort()).toEqual([...keyNames, 'web-cert'].sort());
  });

  it('backs up the exact bytes, refuses to restore over a soft-deleted name, and restores after a purge', async () => {
    const vault = factory().open(emulator.url);
    await clients.keys.createEcKey('rotating');
    await clients.keys.createEcKey('rotating');
    expect(await vault.listVersions('key', 'rotating')).toHaveLength(2);
    const bytes = await vault.backup('key', 'rotating');
    expect(bytes.byteLength).toBeGreaterThan(100);

    await vault.delete('key', 'rotating');
    expect(await vault.nameState('key', 'rotating')).toBe('deleted');
    expect((await vault.listDeleted('key')).map((d) => d.name)).toContain('rotating');
    const refused = await vault.restore('key', bytes).catch((e: unknown) => e);
    expect(isKvGuardError(refused, 'Conflict')).toBe(true);
    // The inner error code survives the SDK (kept by the adapter's pipeline policy).
    expect(refused).toMatchObject({ serviceCode: 'ObjectIsDeletedButRecoverable', statusCode: 409 });

    await vault.purge('key', 'rotating');
    expect(await vault.nameState('key', 'rotating')).toBe('free');
    // Right after a purge the service still refuses the name for a while; the adapter waits that out.
    expect(await vault.restore('key', bytes)).toEqual({ name: 'rotating' });
    expect(await vault.nameState('key', 'rotating')).toBe('live');
    expect(await vault.listVersions('key', 'rotating')).toHaveLength(2);
  });

  it('recovers a deleted secret and waits until it is live, without reading its value', async () => {
    const vault = factory().open(emulator.url);
    await vault.delete('secret', 'secret-00');
    expect(await vault.nameState('secret', 'secret-00')).toBe('deleted');
    await vault.recover('secret', 'secret-00');
    expect(await vault.nameState('secret', 'secret-00')).toBe('live');
    expect(await vault.nameState('secret', 'never-existed')).toBe('free');
  });

  it('answers NotFound with the service code for a missing object, and TooManyVersions past 500 versions', async () => {
    const vault = factory().open(emulator.url);
    await expect(vault.backup('certificate', 'missing')).rejects.toMatchObject({
      code: 'NotFound',
      serviceCode: 'CertificateNotFound',
      statusCode: 404,
    });
    for (let i = 0; i < 501; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, 501 - i) }, (_, j) => clients.secrets.setSecret('chatty', `v${i + j}`)),
      );
    }
    await expect(vault.backup('secret', 'chatty')).rejects.toMatchObject({ code: 'TooManyVersions', statusCode: 400 });
  });

  it('completes every call through injected 429s (with and without Retry-After), 503s and connection resets', async () => {
    emulator.configure({
      faults: { seed: 7, rate429: 0.08, rate503: 0.06, rateReset: 0.04 },
      throttle: { retryAfter: 0.3 },
    });
    try {
      const vault = factory().open(emulator.url, { deadline: new Date(Date.now() + 120_000) });
      const names = [...keyNames.map((n) => ['key', n] as const), ...secretNames.map((n) => ['secret', n] as const)];
      const backups = await mapWithConcurrency(names, 16, ([type, name]) => vault.backup(type, name));
      expect(backups.every((b) => b.byteLength > 0)).toBe(true);
      expect(vault.stats().throttled).toBeGreaterThan(0);
    } finally {
      emulator.configure({ faults: null, throttle: { retryAfter: 'always' } });
    }
  });

  for (const retryAfter of ['never', 'always'] as const) {
    it(`finds a vault limit below its ceiling (Retry-After ${retryAfter}), yields to it and still finishes`, async () => {
      // Far below what even a loaded machine sends, so the limit is met whatever the load.
      emulator.configure({ throttle: { operations: 8, windowSeconds: 1, retryAfter, startEmpty: true } });
      try {
        const kv = factory({ maxConcurrency: 16, ceilingPerSecond: () => 100 });
        const vault = kv.open(emulator.url, { deadline: new Date(Date.now() + 120_000) });
        const names = [...keyNames, ...keyNames];
        const states = await mapWithConcurrency(names, 16, (name) => vault.nameState('key', name));
        expect(states.every((s) => s === 'live')).toBe(true);
        const limiter = kv.limiterStats(emulator.url)!;
        expect(limiter.decreases).toBeGreaterThan(0);
      } finally {
        emulator.configure({
          throttle: { operations: 4000, windowSeconds: 10, retryAfter: 'always', startEmpty: false },
        });
      }
    });
  }

  it('rides out random 429s: every call completes', async () => {
    emulator.configure({ faults: { seed: 5, rate429: 0.1 }, throttle: { retryAfter: 'never' } });
    try {
      const kv = factory({ maxConcurrency: 16, ceilingPerSecond: () => 150 });
      const vault = kv.open(emulator.url, { deadline: new Date(Date.now() + 120_000) });
      const names = [...keyNames, ...keyNames, ...keyNames, ...keyNames, ...keyNames];
      const states = await mapWithConcurrency(names, 16, (name) => vault.nameState('key', name));
      expect(states.every((s) => s === 'live')).toBe(true);
      // Every call got through its 429s; that the pace is not ratcheted down by them is asserted on a manual clock
      // in adaptive-limiter.test.ts (here the machine's own speed, not the vault, may set the pace).
      expect(vault.stats().throttled).toBeGreaterThan(0);
    } finally {
      emulator.configure({ faults: null, throttle: { retryAfter: 'always' } });
    }
  });

  it('turns endless throttling into DeadlineExceeded once the run deadline passes', async () => {
    emulator.configure({ faults: { rate429: 1 }, throttle: { retryAfter: 'never' } });
    try {
      const vault = factory().open(emulator.url, { deadline: new Date(Date.now() + 800) });
      const started = Date.now();
      const error = await vault.backup('key', 'key-01').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'DeadlineExceeded', statusCode: 429 });
      // Well past the 800 ms deadline even on a loaded machine, yet far short of retrying for ever.
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      emulator.configure({ faults: null, throttle: { retryAfter: 'always' } });
    }
  });
});
