import { afterEach, describe, expect, it } from 'vitest';
import { InvocationContext, type Timer } from '@azure/functions';
import { backupSettings, useServices } from '../../src/composition';
import { backupVaultNow } from '../../src/core/backup/runs';
import type { BackupJob } from '../../src/core/jobs';
import { functionDefinitions } from '../../src/functions';
import { applyRetentionFunction } from '../../src/functions/apply-retention';
import { scheduleBackupsFunction } from '../../src/functions/schedule-backups';
import { installRestoreWorld, invocationContext } from '../core/restore/function-harness';
import { InMemoryPruneMarks, InMemoryQueue } from '../support/in-memory';

afterEach(() => useServices(undefined));

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};

/** Backs up vault `prod` `runs` times, an hour apart, each time with a new version of key `k1`. */
async function backUpNewVersions(world: ReturnType<typeof installRestoreWorld>, runs: number): Promise<void> {
  const prod = world.config.vaults.find((v) => v.name === 'prod')!;
  world.prod.seedKey('k1');
  for (let run = 0; run < runs; run++) {
    world.prod.addVersion('key', 'k1');
    await backupVaultNow(prod, world.services, backupSettings(world.config));
    world.clock.advance(3_600_000);
  }
}

describe('applyRetention timer', () => {
  it('runs on KVGUARD_RETENTION_SCHEDULE and tags what each vault policy lets go, deleting nothing', async () => {
    expect(functionDefinitions).toContain(applyRetentionFunction);
    expect(applyRetentionFunction).toMatchObject({ trigger: 'timer', schedule: '%KVGUARD_RETENTION_SCHEDULE%' });
    const world = installRestoreWorld({ KVGUARD_KEEP_LAST: '2' });
    const pruneMarks = new InMemoryPruneMarks();
    useServices({ ...world.services, pruneMarks });
    await backUpNewVersions(world, 4);
    const oldestTwo = world.store
      .records()
      .slice(-2)
      .map((r) => r.blobName);

    await applyRetentionFunction.handler(timer, invocationContext('applyRetention'));

    expect([...pruneMarks.marked.keys()].sort()).toEqual(oldestTwo.sort());
    expect(world.store.records()).toHaveLength(4);
  });

  it('with pruning off only plans and reports: it tags nothing, warns of nothing and raises no alert', async () => {
    const world = installRestoreWorld({ KVGUARD_KEEP_LAST: '1' });
    expect(world.config.pruning).toBe(false);
    expect(world.services.pruneMarks).toBeUndefined();
    await backUpNewVersions(world, 3);
    const lines: { level: string; text: string }[] = [];
    const context = new InvocationContext({
      invocationId: 'test',
      functionName: 'applyRetention',
      logHandler: (level, ...args) => lines.push({ level, text: args.map(String).join(' ') }),
    });
    const raisedBefore = world.alerts.raised.length;

    await applyRetentionFunction.handler(timer, context);

    expect(lines.filter((l) => l.level !== 'information')).toEqual([]);
    const prodLine = lines.find(
      (l) => l.text.includes('retention pass done') && l.text.includes('"vault":"prod"'),
    )?.text;
    expect(prodLine).toContain('planned only');
    expect(prodLine).toMatch(/"prune":2\b/);
    expect(prodLine).toMatch(/"marked":0\b/);
    expect(world.alerts.raised.length).toBe(raisedBefore);
    expect(world.store.records()).toHaveLength(3);
  });
});

describe('scheduleBackups timer with policies', () => {
  it('enqueues no job for a paused vault', async () => {
    const world = installRestoreWorld({
      KVGUARD_VAULTS: JSON.stringify([
        { url: 'https://prod.vault.azure.net/', paused: true },
        { url: 'https://dr.vault.azure.net/' },
      ]),
    });
    const backupQueue = new InMemoryQueue<BackupJob>();
    useServices({ ...world.services, backupQueue });
    await scheduleBackupsFunction.handler(timer, invocationContext('scheduleBackups'));
    expect(backupQueue.jobs.map((j) => j.vaultUrl)).toEqual(['https://dr.vault.azure.net/']);
  });
});
