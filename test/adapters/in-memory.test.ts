import { describe, expect, it } from 'vitest';
import {
  InMemoryQueue,
  InMemoryVault,
  InMemoryVaultFactory,
  ManualClock,
  kvError,
  seedObjects,
} from '../support/in-memory';

describe('InMemoryVault', () => {
  it('pages a listing with continuation tokens and flags the managed key of a certificate', async () => {
    const vault = new InMemoryVault('https://demo.vault.azure.net');
    seedObjects(vault, 'key', 30);
    vault.seedCertificate('web-cert');
    const first = await vault.listObjects('key', { pageSize: 25 });
    expect(first.items).toHaveLength(25);
    const second = await vault.listObjects('key', { continuationToken: first.continuationToken });
    expect(second.continuationToken).toBeUndefined();
    const all = [...first.items, ...second.items];
    expect(all).toHaveLength(31);
    expect(all.find((o) => o.name === 'web-cert')?.managed).toBe(true);
  });

  it('produces different backup bytes each time and refuses to restore over a live or soft-deleted name', async () => {
    const vault = new InMemoryVault().seedKey('db-key', { versions: 3, tags: { kvguard: 'critical' } });
    const a = await vault.backup('key', 'db-key');
    const b = await vault.backup('key', 'db-key');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);

    await expect(vault.restore('key', a)).rejects.toMatchObject({ code: 'Conflict' });
    await vault.delete('key', 'db-key');
    expect(await vault.nameState('key', 'db-key')).toBe('deleted');
    await expect(vault.restore('key', a)).rejects.toMatchObject({ code: 'Conflict' });

    await vault.purge('key', 'db-key');
    expect(await vault.nameState('key', 'db-key')).toBe('free');
    expect(await vault.restore('key', a)).toEqual({ name: 'db-key' });
    expect(vault.inspect('key', 'db-key')).toMatchObject({
      versions: expect.any(Array),
      tags: { kvguard: 'critical' },
      deleted: false,
    });
    expect(vault.inspect('key', 'db-key')!.versions).toHaveLength(3);
  });

  it('recovers a soft-deleted certificate together with its managed key and secret', async () => {
    const clock = new ManualClock();
    const vault = new InMemoryVault(undefined, { clock }).seedCertificate('web');
    await vault.delete('certificate', 'web');
    expect(await vault.nameState('key', 'web')).toBe('deleted');
    const deleted = await vault.listDeleted('certificate');
    expect(deleted).toEqual([expect.objectContaining({ name: 'web', deletedOn: clock.now() })]);
    await vault.recover('certificate', 'web');
    expect(await vault.nameState('secret', 'web')).toBe('live');
  });

  it('throws injected failures once per use and counts injected 429s', async () => {
    const vault = new InMemoryVault().seedKey('k');
    vault.failNext('backup', () => kvError('Throttled', 'slow down', { statusCode: 429 }), 2);
    await expect(vault.backup('key', 'k')).rejects.toMatchObject({ code: 'Throttled' });
    await expect(vault.backup('key', 'k')).rejects.toMatchObject({ code: 'Throttled' });
    await expect(vault.backup('key', 'k')).resolves.toBeInstanceOf(Uint8Array);
    expect(vault.stats().throttled).toBe(2);
    vault.failWhen('listVersions', ([, name]) => name === 'k', kvError('Forbidden'));
    await expect(vault.listVersions('key', 'k')).rejects.toMatchObject({ code: 'Forbidden' });
  });
});

describe('InMemoryVaultFactory', () => {
  it('opens known vaults and fails calls to unknown or forbidden ones with typed errors', async () => {
    const factory = new InMemoryVaultFactory();
    const demo = factory.create('demo');
    expect(factory.open('https://DEMO.vault.azure.net')).toBe(demo);
    await expect(factory.open('https://nope.vault.azure.net/').listObjects('key')).rejects.toMatchObject({
      code: 'NotFound',
    });
    factory.forbid(demo.url);
    await expect(factory.open(demo.url).listObjects('key')).rejects.toMatchObject({ code: 'Forbidden' });
  });
});

// The backup store's and state store's behaviour is checked by the port contracts in test/contracts/.

describe('InMemoryQueue and ManualClock', () => {
  it('keeps JSON copies of sent jobs and drains them', async () => {
    const queue = new InMemoryQueue<{ at: Date | string }>();
    await queue.send({ at: new Date('2025-01-01T00:00:00Z') }, { delaySeconds: 5 });
    expect(queue.sent[0]!.delaySeconds).toBe(5);
    expect(queue.drain()).toEqual([{ at: '2025-01-01T00:00:00.000Z' }]);
    expect(queue.jobs).toEqual([]);
  });

  it('advances time when sleeping', async () => {
    const clock = new ManualClock('2025-01-01T00:00:00Z');
    await clock.sleep(1500);
    expect(clock.now().toISOString()).toBe('2025-01-01T00:00:01.500Z');
    expect(clock.slept).toEqual([1500]);
  });
});
