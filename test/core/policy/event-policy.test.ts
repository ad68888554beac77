import { describe, expect, it } from 'vitest';
import { findVault } from '../../../src/config';
import { isExcludedByName } from '../../../src/core/backup/selection';
import type { VaultPolicy, VaultTarget } from '../../../src/core/domain';
import { handleVaultEvent } from '../../../src/core/events';
import type { BackupJob } from '../../../src/core/jobs';
import {
  InMemoryBackupStore,
  InMemoryQueue,
  InMemoryStateStore,
  ManualClock,
  recordingAlerts,
  RecordingLogger,
} from '../../support/in-memory';
import { keyVaultObjectEvent } from '../events/fixtures';

function vault(policy: Partial<VaultPolicy>): VaultTarget {
  return {
    url: 'https://contoso.vault.azure.net/',
    name: 'contoso',
    types: ['key', 'secret', 'certificate'],
    critical: { kind: 'all' },
    policy: { include: [], exclude: [], paused: false, rpoHours: 24, retention: {}, refreshAfterDays: 88, ...policy },
  };
}

describe('event snapshots follow the vault policy where the event says enough', () => {
  it('refuses by type-qualified exclude globs and by name-only include lists, never by tag or content type', () => {
    const excludeTmp = vault({ exclude: [{ kind: 'name', type: 'secret', pattern: 'tmp-*' }] });
    expect(isExcludedByName({ type: 'secret', name: 'tmp-1' }, excludeTmp)).toBe(true);
    expect(isExcludedByName({ type: 'key', name: 'tmp-1' }, excludeTmp)).toBe(false);
    const onlyApp = vault({ include: [{ kind: 'name', pattern: 'app-*' }] });
    expect(isExcludedByName({ type: 'key', name: 'db' }, onlyApp)).toBe(true);
    expect(isExcludedByName({ type: 'key', name: 'app-db' }, onlyApp)).toBe(false);
    const byTag = vault({ include: [{ kind: 'tag', tag: 'backup', value: 'yes' }] });
    expect(isExcludedByName({ type: 'key', name: 'db' }, byTag)).toBe(false);
  });

  it('takes no snapshot of an excluded secret on SecretNewVersionCreated', async () => {
    const target = vault({ exclude: [{ kind: 'name', type: 'secret', pattern: 'tmp-*' }] });
    const clock = new ManualClock('2025-03-01T12:00:00.000Z');
    const logger = new RecordingLogger();
    const state = new InMemoryStateStore();
    const queue = new InMemoryQueue<BackupJob>();
    const deps = {
      findVault: (urlOrName: string) => findVault({ vaults: [target] }, urlOrName),
      snapshotOnPolicyChange: false,
      state,
      backupQueue: queue,
      alerts: recordingAlerts({ logger, clock }).alerts,
      store: new InMemoryBackupStore(),
      logger,
      clock,
    };
    const event = (id: string, name: string) =>
      keyVaultObjectEvent('Microsoft.KeyVault.SecretNewVersionCreated', { id, name });
    expect(await handleVaultEvent(event('e1', 'tmp-build'), deps)).toMatchObject({ outcome: 'ignored', actions: [] });
    expect(logger.messages('info')).toContain('event about an object the vault policy excludes; no snapshot');
    await handleVaultEvent(event('e2', 'app-db'), deps);
    expect(queue.jobs.map((j) => j.objects)).toEqual([[{ type: 'secret', name: 'app-db' }]]);
  });
});
