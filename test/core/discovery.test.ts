import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArmVaultDirectory } from '../../src/adapters/arm-vault-directory';
import { emulatorCredential } from '../../src/adapters/credential';
import { createKeyVaultPortFactory } from '../../src/adapters/key-vault';
import { silentLogger, systemClock } from '../../src/core/ports';
import { discoverVaults, protectedVaults } from '../../src/core/discovery';
import { isKvGuardError } from '../../src/core/errors';
import { startArmStandIn, type ArmStandIn } from '../support/arm-stand-in';
import { startTestEmulator, type TestEmulator } from '../support/emulator';
import { InMemoryStateStore } from '../support/in-memory';

const readable = '11111111-1111-1111-1111-111111111111';
const denied = '22222222-2222-2222-2222-222222222222';

let emulator: TestEmulator;
let arm: ArmStandIn;

beforeAll(async () => {
  emulator = await startTestEmulator();
  arm = await startArmStandIn(
    {
      [readable]: [
        { name: 'Tagged-Rbac', vaultUri: emulator.url, tags: { KVGuard: 'Protect' } },
        { name: 'untagged', vaultUri: 'https://untagged.vault.azure.net/' },
        { name: 'other-value', vaultUri: 'https://other.vault.azure.net/', tags: { kvguard: 'ignore' } },
        {
          name: 'policies',
          vaultUri: 'https://placeholder.invalid/',
          tags: { kvguard: 'protect' },
          enableRbacAuthorization: false,
        },
        { name: 'seen-not-readable', vaultUri: 'https://placeholder.invalid/', tags: { kvguard: 'protect' } },
      ],
      [denied]: 'forbidden',
    },
    emulator.dataDir,
  );
});

afterAll(async () => {
  await Promise.all([arm?.stop(), emulator?.stop()]);
});

const directory = () =>
  createArmVaultDirectory({ credential: emulatorCredential, endpoint: arm.endpoint, caCertPem: arm.caCertPem });

describe('the ARM vault directory (unchanged @azure/arm-keyvault against the ARM stand-in)', () => {
  it('lists the vaults tagged kvguard=protect across pages, tag matched case-insensitively, with their permission model', async () => {
    const found = [];
    for await (const vault of directory().listTaggedVaults(readable, { name: 'kvguard', value: 'protect' }))
      found.push(vault);
    expect(found.map((v) => [v.name, v.permissionModel])).toEqual([
      ['tagged-rbac', 'rbac'],
      ['policies', 'accessPolicy'],
      ['seen-not-readable', 'rbac'],
    ]);
    expect(found[0]).toMatchObject({
      url: emulator.url,
      resourceId: `/subscriptions/${readable}/resourceGroups/rg-Tagged-Rbac/providers/Microsoft.KeyVault/vaults/Tagged-Rbac`,
    });
    const listings = arm.requests.filter((r) => r.path.includes(readable));
    expect(listings.length).toBe(3); // five vaults, two per page
    expect(listings.every((r) => r.authorized && /api-version=\d{4}-\d{2}-\d{2}/.test(r.path))).toBe(true);
  });

  it('answers Forbidden for a subscription the identity may not read', async () => {
    const error = await (async () => {
      for await (const _ of directory().listTaggedVaults(denied, { name: 'kvguard', value: 'protect' })) void _;
    })().catch((e: unknown) => e);
    expect(isKvGuardError(error, 'Forbidden')).toBe(true);
    expect((error as Error).message).toContain(denied);
  });
});

describe('vault discovery', () => {
  it('protects readable tagged vaults and reports unreadable ones and unlistable subscriptions as findings', async () => {
    // Point the two placeholder vaults at the stand-in's vault that refuses every call.
    const vaultsFactory = createKeyVaultPortFactory({
      credential: emulatorCredential,
      ceilingPerSecond: () => 1_000,
      maxConcurrency: 4,
      caCertPem: emulator.caCertPem,
      logger: silentLogger,
      telemetry: { event: () => {}, metric: () => {} },
      retry: { maxRetries: 0 },
    });
    const forbiddenUrl = arm.forbiddenVaultUrl;
    const redirected = {
      async *listTaggedVaults(subscriptionId: string, tag: { name: string; value: string }) {
        for await (const v of directory().listTaggedVaults(subscriptionId, tag))
          yield v.url.includes('placeholder') ? { ...v, url: forbiddenUrl } : v;
      },
    };
    const state = new InMemoryStateStore();
    const result = await discoverVaults(
      { subscriptions: [readable, denied], tagName: 'kvguard', types: ['key', 'secret'], critical: { kind: 'all' } },
      { directory: redirected, vaults: vaultsFactory, state, logger: silentLogger, clock: systemClock },
    );
    expect(result.vaults.map((v) => v.name)).toEqual(['tagged-rbac']);
    expect(result.findings).toEqual([
      expect.objectContaining({ subscriptionId: readable, vault: 'policies', code: 'Forbidden' }),
      expect.objectContaining({ subscriptionId: readable, vault: 'seen-not-readable', code: 'Forbidden' }),
      expect.objectContaining({ subscriptionId: denied, code: 'Forbidden', reason: expect.stringContaining('Reader') }),
    ]);

    const configured = [
      {
        url: 'https://fixed.vault.azure.net/',
        name: 'fixed',
        types: ['key' as const],
        critical: { kind: 'all' as const },
      },
    ];
    expect((await protectedVaults(configured, state)).map((v) => v.name)).toEqual(['fixed', 'tagged-rbac']);
  });
});
