import { afterEach, describe, expect, it } from 'vitest';
import { useServices } from '../../src/composition';
import { backupVaultFunction } from '../../src/functions/backup-vault';
import { installRestoreWorld, invocationContext } from '../core/restore/function-harness';

afterEach(() => useServices(undefined));

describe('the backupVault queue worker', () => {
  it('backs up a vault the latest discovery found by tag, and drops a job for a vault nobody vouches for', async () => {
    const world = installRestoreWorld({ KVGUARD_VAULTS: 'https://prod.vault.azure.net/' });
    world.dr.seedKey('dr-key');
    await world.services.state.write('discovery/vaults', {
      discoveredAt: world.clock.now().toISOString(),
      vaults: [
        {
          url: world.dr.url,
          name: 'dr',
          types: ['key'],
          critical: { kind: 'all' },
          resourceId: '/x',
          permissionModel: 'rbac',
        },
      ],
      findings: [],
    });
    const job = (vaultUrl: string) => ({
      kind: 'backup',
      runId: '20250101T000000Z-abcdef',
      vaultUrl,
      trigger: 'schedule',
      enqueuedAt: world.clock.now().toISOString(),
    });

    await backupVaultFunction.handler(job(world.dr.url), invocationContext('backupVault'));
    const stored = [];
    for await (const record of world.services.store.listBackups({ vault: 'dr' })) stored.push(record.name);
    expect(stored).toEqual(['dr-key']);

    const lines: string[] = [];
    await backupVaultFunction.handler(
      job('https://stranger.vault.azure.net/'),
      invocationContext('backupVault', lines),
    );
    expect(lines.join('\n')).toContain('no longer configured');
  });
});
