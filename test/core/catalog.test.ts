import { describe, expect, it } from 'vitest';
import { catalogPage, latestBackupsAsOf } from '../../src/core/catalog';
import type { BackupRecord } from '../../src/core/domain';
import { restoreWorld } from './restore/harness';

/** Three objects backed up at interleaved times, so "newest first" differs from the store's per-object order. */
async function catalog() {
  const world = restoreWorld();
  world.prod.seedKey('alpha').seedKey('beta').seedSecret('gamma');
  const stored: BackupRecord[] = [];
  for (const round of [0, 1, 2]) {
    for (const [type, name] of [
      ['key', 'alpha'],
      ['key', 'beta'],
      ['secret', 'gamma'],
    ] as const) {
      world.clock.advance(60_000);
      if (round > 0) world.prod.addVersion(type, name);
      stored.push(await world.backUp(world.prod, type, name));
    }
  }
  return { world, stored };
}

describe('catalogPage', () => {
  it('lists the catalog newest first across objects, one page at a time, without gaps or repeats', async () => {
    const { world, stored } = await catalog();
    const expected = [...stored].reverse().map((r) => r.blobName);

    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await catalogPage(world.store, { vault: 'prod', limit: 4, continuationToken: token });
      expect(page.items.length).toBeLessThanOrEqual(4);
      seen.push(...page.items.map((r) => r.blobName));
      token = page.continuationToken;
    } while (token);

    expect(seen).toEqual(expected);
  });

  it('filters by type, name and asOf', async () => {
    const { world, stored } = await catalog();
    const asOf = stored[4]!.takenAt;

    const page = await catalogPage(world.store, { vault: 'prod', type: 'key', name: 'ALPHA', asOf });

    expect(page.items.map((r) => [r.name, r.takenAt.toISOString()])).toEqual([
      ['alpha', stored[3]!.takenAt.toISOString()],
      ['alpha', stored[0]!.takenAt.toISOString()],
    ]);
    expect(page.continuationToken).toBeUndefined();
  });

  it('keeps later pages stable when a newer backup is stored between pages', async () => {
    const { world, stored } = await catalog();
    const first = await catalogPage(world.store, { vault: 'prod', limit: 3 });
    world.clock.advance(60_000);
    world.prod.addVersion('key', 'beta');
    await world.backUp(world.prod, 'key', 'beta');

    const second = await catalogPage(world.store, {
      vault: 'prod',
      limit: 3,
      continuationToken: first.continuationToken,
    });

    expect(second.items.map((r) => r.blobName)).toEqual(
      [...stored]
        .reverse()
        .slice(3, 6)
        .map((r) => r.blobName),
    );
  });

  it('refuses a token it did not issue and a limit out of range, naming the field', async () => {
    const { world } = await catalog();
    await expect(catalogPage(world.store, { continuationToken: 'garbage' })).rejects.toMatchObject({
      code: 'ValidationError',
      field: 'continuationToken',
    });
    await expect(catalogPage(world.store, { limit: 0 })).rejects.toMatchObject({
      code: 'ValidationError',
      field: 'limit',
    });
  });
});

describe('latestBackupsAsOf', () => {
  it('answers each object newest backup at or before the instant and lists objects that had none then', async () => {
    const { world, stored } = await catalog();
    world.clock.advance(60_000);
    world.prod.seedKey('delta');
    await world.backUp(world.prod, 'key', 'delta');

    const { latest, absent } = await latestBackupsAsOf(world.store, { vault: 'prod', asOf: stored[5]!.takenAt });

    expect(latest.map((r) => r.blobName).sort()).toEqual(
      [stored[3], stored[4], stored[5]].map((r) => r!.blobName).sort(),
    );
    expect(absent).toEqual([{ type: 'key', name: 'delta', firstBackupAt: expect.any(Date) }]);
  });
});
