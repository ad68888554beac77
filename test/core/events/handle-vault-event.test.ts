import { describe, expect, it } from 'vitest';
import { backupRecordOf } from '../../support/catalog-fixtures';
import { findVault } from '../../../src/config';
import { ALERT_TYPES, claimOnce, dedupeStateKey } from '../../../src/core/alerts';
import type { VaultTarget } from '../../../src/core/domain';
import { handleVaultEvent, type VaultEventResult } from '../../../src/core/events';
import type { BackupJob } from '../../../src/core/jobs';
import {
  InMemoryBackupStore,
  InMemoryQueue,
  InMemoryStateStore,
  kvError,
  ManualClock,
  recordingAlerts,
  RecordingLogger,
} from '../../support/in-memory';
import {
  accessPolicyChangedEvent,
  envelope,
  keyVaultObjectEvent,
  OBJECT_EVENT_TYPES,
  resourceDeletedEvent,
  SCHEMAS,
  vaultResourceId,
} from './fixtures';

const CONTOSO: VaultTarget = {
  url: 'https://contoso.vault.azure.net/',
  name: 'contoso',
  types: ['key', 'secret', 'certificate'],
  critical: { kind: 'all' },
};
const SECRETS_ONLY: VaultTarget = {
  url: 'https://fabrikam.vault.azure.net/',
  name: 'fabrikam',
  types: ['secret'],
  critical: { kind: 'all' },
};

function setup(options: { snapshotOnPolicyChange?: boolean; coalesceSeconds?: number } = {}) {
  const clock = new ManualClock('2025-03-01T12:00:00.000Z');
  const logger = new RecordingLogger();
  const state = new InMemoryStateStore();
  const queue = new InMemoryQueue<BackupJob>();
  const store = new InMemoryBackupStore();
  const { alerts, received } = recordingAlerts({ logger, clock });
  const deps = {
    findVault: (urlOrName: string) => findVault({ vaults: [CONTOSO, SECRETS_ONLY] }, urlOrName),
    snapshotOnPolicyChange: options.snapshotOnPolicyChange ?? false,
    coalesceSeconds: options.coalesceSeconds,
    state,
    backupQueue: queue,
    alerts,
    store,
    logger,
    clock,
  };
  const handle = (raw: unknown): Promise<VaultEventResult> => handleVaultEvent(raw, deps);
  return { handle, queue, received, logger, store, state, clock };
}

describe('handleVaultEvent', () => {
  describe('coalescing a burst of new versions of one object', () => {
    const newVersion = (id: string, name = 'db-secret') =>
      keyVaultObjectEvent('Microsoft.KeyVault.SecretNewVersionCreated', { id, vault: 'contoso', name });

    it('snapshots the first event at once and all the others of the window once, at its end', async () => {
      const { handle, queue, clock } = setup({ coalesceSeconds: 30 });
      for (let i = 0; i < 500; i++) {
        await handle(newVersion(`evt-${i}`));
        clock.advance(20);
      }
      expect(queue.sent.map((m) => m.delaySeconds)).toEqual([undefined, 30]);
      expect(queue.sent.every((m) => m.job.objects?.[0]?.name === 'db-secret')).toBe(true);
    });

    it('starts a new window after the last one ended, and keeps objects apart', async () => {
      const { handle, queue, clock } = setup({ coalesceSeconds: 30 });
      await handle(newVersion('a-1'));
      await handle(newVersion('b-1', 'other-secret'));
      clock.advance(31_000);
      await handle(newVersion('a-2'));
      expect(queue.sent.map((m) => [m.job.objects?.[0]?.name, m.delaySeconds])).toEqual([
        ['db-secret', undefined],
        ['other-secret', undefined],
        ['db-secret', undefined],
      ]);
    });
  });

  describe.each(SCHEMAS)('%s schema', (schema) => {
    it.each(OBJECT_EVENT_TYPES.filter((t) => t.suffix !== 'Expired'))(
      'enqueues a snapshot of the object on $eventType',
      async ({ type, eventType }) => {
        const { handle, queue, received } = setup();
        const result = await handle(
          keyVaultObjectEvent(eventType, { schema, id: 'evt-1', vault: 'CONTOSO', name: 'Db-Key' }),
        );
        expect(result).toMatchObject({
          outcome: 'handled',
          vault: 'contoso',
          actions: [`snapshot ${type.toLowerCase()}/Db-Key`],
        });
        expect(queue.jobs).toEqual([
          {
            kind: 'backup',
            runId: 'event-evt-1',
            vaultUrl: CONTOSO.url,
            trigger: 'event',
            full: false,
            objects: [{ type: type.toLowerCase(), name: 'Db-Key' }],
            enqueuedAt: '2025-03-01T12:00:00.000Z',
          },
        ]);
        expect(received).toEqual([]);
      },
    );

    it.each(OBJECT_EVENT_TYPES.filter((t) => t.suffix === 'Expired'))(
      'raises an alert on $eventType and takes no snapshot',
      async ({ type, eventType }) => {
        const { handle, queue, received } = setup();
        const result = await handle(
          keyVaultObjectEvent(eventType, { schema, name: 'db-key', version: 'v7', data: { EXP: '1740830400' } }),
        );
        expect(result.outcome).toBe('handled');
        expect(queue.jobs).toEqual([]);
        expect(received).toHaveLength(1);
        expect(received[0]).toMatchObject({
          type: `kvguard.${type}Expired`,
          severity: 'warning',
          subject: `contoso/${type.toLowerCase()}/db-key`,
          data: { vault: 'contoso', name: 'db-key', version: 'v7', expiresOn: '2025-03-01T12:00:00.000Z' },
        });
        expect(received[0]!.summary).toContain('expired on 2025-03-01T12:00:00.000Z');
      },
    );

    it('raises an alert when the access policy changes, without a snapshot by default', async () => {
      const { handle, queue, received } = setup();
      expect(await handle(accessPolicyChangedEvent({ schema }))).toMatchObject({
        outcome: 'handled',
        actions: [`alert ${ALERT_TYPES.accessPolicyChanged}`],
      });
      expect(queue.jobs).toEqual([]);
      expect(received.map((a) => [a.type, a.subject])).toEqual([[ALERT_TYPES.accessPolicyChanged, 'contoso']]);
    });

    it('also snapshots the whole vault on a policy change when configured to', async () => {
      const { handle, queue, received } = setup({ snapshotOnPolicyChange: true });
      await handle(accessPolicyChangedEvent({ schema, id: 'p-1' }));
      expect(queue.jobs).toEqual([
        {
          kind: 'backup',
          runId: 'event-p-1',
          vaultUrl: CONTOSO.url,
          trigger: 'event',
          full: false,
          enqueuedAt: '2025-03-01T12:00:00.000Z',
        },
      ]);
      expect(received[0]!.summary).toContain('taking a snapshot');
    });

    it('raises a critical alert when a protected vault is deleted, saying what kvguard holds and how to recover', async () => {
      const { handle, store, received } = setup();
      const put = (type: 'key' | 'secret', name: string, takenAt: string, content: number) => {
        const bytes = new Uint8Array([content]);
        return store.putBackup(backupRecordOf(bytes, takenAt, { vault: 'contoso', type, name, size: 1 }), bytes);
      };
      await put('key', 'db-key', '2025-02-01T00:00:00Z', 1);
      await put('key', 'db-key', '2025-02-02T00:00:00Z', 2);
      await put('secret', 'db-pass', '2025-02-03T00:00:00Z', 3);
      const result = await handle(resourceDeletedEvent(vaultResourceId('Contoso'), { schema }));
      expect(result).toMatchObject({ outcome: 'handled', actions: [`alert ${ALERT_TYPES.vaultDeleted}`] });
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({
        type: ALERT_TYPES.vaultDeleted,
        severity: 'critical',
        subject: 'contoso',
        data: {
          backedUpObjects: 2,
          countComplete: true,
          newestBackupAt: '2025-02-03T00:00:00.000Z',
          vaultUrl: CONTOSO.url,
        },
      });
      expect(received[0]!.summary).toMatch(/backups of 2 objects \(the newest taken 2025-02-03T00:00:00.000Z\)/);
      expect(received[0]!.summary).toMatch(/recover the vault within its soft-delete retention.*kvguard restore/);
    });
  });

  it('ignores the deletion of a vault it neither protects nor holds backups of', async () => {
    const { handle, received } = setup();
    expect(await handle(resourceDeletedEvent(vaultResourceId('elsewhere')))).toMatchObject({ outcome: 'ignored' });
    expect(received).toEqual([]);
  });

  it('acknowledges the deletion of a resource that is not a vault', async () => {
    const { handle, received } = setup();
    const result = await handle(
      resourceDeletedEvent('/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app'),
    );
    expect(result).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('not a Key Vault vault') });
    expect(received).toEqual([]);
  });

  it('ignores events of vaults kvguard does not protect', async () => {
    const { handle, queue, state } = setup();
    const result = await handle(keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { vault: 'unknown' }));
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'vault "unknown" is not configured' });
    expect(queue.jobs).toEqual([]);
    expect(state.keys()).toEqual([]);
  });

  it('finds the vault by the object id when the vault name is missing', async () => {
    const { handle, queue } = setup();
    await handle(
      keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { data: { VaultName: undefined }, topic: null }),
    );
    expect(queue.jobs.map((j) => j.vaultUrl)).toEqual([CONTOSO.url]);
  });

  it('takes no snapshot of an object type the vault does not back up', async () => {
    const { handle, queue } = setup();
    const result = await handle(keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { vault: 'fabrikam' }));
    expect(result.outcome).toBe('ignored');
    expect(queue.jobs).toEqual([]);
  });

  describe('at-least-once delivery', () => {
    it.each(SCHEMAS)('makes one snapshot of an event delivered three times (%s)', async (schema) => {
      const { handle, queue } = setup();
      const event = keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { schema, id: 'dup-1' });
      const results = [await handle(event), await handle(event), await handle(event)];
      expect(results.map((r) => r.outcome)).toEqual(['handled', 'duplicate', 'duplicate']);
      expect(queue.jobs).toHaveLength(1);
    });

    it('makes one snapshot when the three deliveries race: the others fail retryably until the first is done', async () => {
      const { handle, queue } = setup();
      const event = keyVaultObjectEvent('Microsoft.KeyVault.SecretNearExpiry', { id: 'race-1' });
      const settled = await Promise.allSettled([handle(event), handle(event), handle(event)]);
      expect(settled.filter((s) => s.status === 'fulfilled').map((s) => s.value.outcome)).toEqual(['handled']);
      for (const s of settled.filter((r) => r.status === 'rejected'))
        expect(s.reason).toMatchObject({ code: 'InProgress' });
      expect(await handle(event)).toMatchObject({ outcome: 'duplicate' });
      expect(queue.jobs).toHaveLength(1);
    });

    it('never answers "duplicate" for a claim a crashed invocation left pending: redeliveries fail until it is taken over', async () => {
      const { handle, queue, state, clock } = setup();
      const event = keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { id: 'crash-1' });
      // The crashed invocation: it claimed the event and died before enqueueing or settling.
      const key = dedupeStateKey('events', `${vaultResourceId('contoso')}|crash-1`);
      expect(await claimOnce(state, clock, key, { eventId: 'crash-1' })).toBe('claimed');

      clock.advance(10_000);
      await expect(handle(event)).rejects.toMatchObject({ code: 'InProgress' });
      clock.advance(60_000);
      await expect(handle(event)).rejects.toMatchObject({ code: 'InProgress' });
      expect(queue.jobs).toEqual([]);

      clock.advance(5 * 60_000);
      expect(await handle(event)).toMatchObject({ outcome: 'handled' });
      expect(await handle(event)).toMatchObject({ outcome: 'duplicate' });
      expect(queue.jobs).toHaveLength(1);
    });

    it.each([
      ['KeyExpired', () => keyVaultObjectEvent('Microsoft.KeyVault.KeyExpired', { id: 'exp-1' })],
      ['VaultAccessPolicyChanged', () => accessPolicyChangedEvent({ id: 'pol-1' })],
      ['ResourceDeleteSuccess', () => resourceDeletedEvent(vaultResourceId('contoso'), { id: 'del-1' })],
    ])('raises one alert for a %s delivered three times', async (_label, make) => {
      const { handle, received } = setup();
      const event = make();
      for (let i = 0; i < 3; i++) await handle(event);
      expect(received).toHaveLength(1);
    });

    it('raises one expiry alert per object version even when Key Vault sends two events for it', async () => {
      const { handle, received } = setup();
      await handle(keyVaultObjectEvent('Microsoft.KeyVault.KeyExpired', { id: 'a', version: 'v1' }));
      await handle(keyVaultObjectEvent('Microsoft.KeyVault.KeyExpired', { id: 'b', version: 'v1' }));
      await handle(keyVaultObjectEvent('Microsoft.KeyVault.KeyExpired', { id: 'c', version: 'v2' }));
      expect(received.map((a) => a.data.version)).toEqual(['v1', 'v2']);
    });

    it('throws when the snapshot cannot be enqueued, so that Event Grid redelivers, and handles the redelivery', async () => {
      const { handle, queue } = setup();
      const event = keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { id: 'retry-1' });
      queue.failNext(() => kvError('Transient', 'queue unavailable'));
      await expect(handle(event)).rejects.toMatchObject({ code: 'Transient' });
      expect(await handle(event)).toMatchObject({ outcome: 'handled' });
      expect(await handle(event)).toMatchObject({ outcome: 'duplicate' });
      expect(queue.jobs).toHaveLength(1);
    });
  });

  describe('robustness', () => {
    it('rejects a malformed event among good ones with a reason, and handles the good ones', async () => {
      const { handle, queue } = setup();
      const batch: unknown[] = [
        keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { id: 'good-1', name: 'a' }),
        { id: 'bad-1', eventType: 'Microsoft.KeyVault.KeyNewVersionCreated', data: { VaultName: 'contoso' } },
        'garbage',
        keyVaultObjectEvent('Microsoft.KeyVault.SecretNewVersionCreated', {
          id: 'good-2',
          name: 'b',
          schema: 'CloudEvents',
        }),
      ];
      const results: VaultEventResult[] = [];
      for (const event of batch) results.push(await handle(event));
      expect(results.map((r) => r.outcome)).toEqual(['handled', 'rejected', 'rejected', 'handled']);
      expect(results[1]!.reason).toContain('names no object');
      expect(results[2]!.reason).toContain('not JSON');
      expect(queue.jobs.map((j) => j.objects)).toEqual([[{ type: 'key', name: 'a' }], [{ type: 'secret', name: 'b' }]]);
    });

    it.each([
      ['Event Grid', 'EventGrid' as const, '/subscriptions/s/../../etc/passwd'],
      ['CloudEvents', 'CloudEvents' as const, '/subscriptions/s/resourceGroups/..'],
    ])(
      'rejects a %s event whose source has a ".." segment, and handles the rest of its delivery',
      async (_l, schema, topic) => {
        const { handle, queue } = setup();
        const bad = keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { schema, id: 'dots-1', topic });
        const good = keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', {
          schema,
          id: 'good-3',
          name: 'ok',
        });
        const results = [await handle(bad), await handle(good)];
        expect(results.map((r) => r.outcome)).toEqual(['rejected', 'handled']);
        expect(results[0]!.reason).toContain('".."');
        expect(queue.jobs.map((j) => j.objects)).toEqual([[{ type: 'key', name: 'ok' }]]);
      },
    );

    it('derives a valid de-duplication key from any event id and source', async () => {
      const { handle, queue } = setup();
      const ids = ['..', '../..', 'a/../b', '\u0000', ' ', '.', '-', '%2e%2e', 'x'.repeat(2000), 'é..ü'];
      for (const [i, id] of ids.entries()) {
        const event = keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', {
          id,
          name: `k${i}`,
          topic: `/subscriptions/s..x/${id}`,
        });
        expect((await handle(event)).outcome).toMatch(/^(handled|rejected)$/);
      }
      expect(queue.jobs.length).toBeGreaterThan(0);
    });

    it('acknowledges unknown event types', async () => {
      const { handle } = setup();
      const result = await handle(
        envelope('CloudEvents', { eventType: 'Microsoft.Storage.BlobCreated', topic: '/subscriptions/s', data: {} }),
      );
      expect(result).toMatchObject({ outcome: 'ignored', eventType: 'Microsoft.Storage.BlobCreated' });
    });

    it.each([
      ['an empty object', {}],
      ['an event with a data array', { id: '1', eventType: 'Microsoft.KeyVault.KeyNearExpiry', data: [1, 2] }],
      ['an event with a numeric id', { id: 7, eventType: 'Microsoft.KeyVault.KeyNearExpiry', data: {} }],
      [
        'a deeply odd payload',
        {
          id: '1',
          eventType: 'Microsoft.KeyVault.KeyNearExpiry',
          data: { ObjectName: { nested: true }, VaultName: 12 },
        },
      ],
      ['undefined', undefined],
    ])('never throws on %s', async (_label, raw) => {
      const { handle } = setup();
      await expect(handle(raw)).resolves.toMatchObject({ outcome: 'rejected' });
    });

    it('keeps the alert from a vault deletion even when the catalog cannot be read', async () => {
      const { handle, store, received } = setup();
      store.failNext('listBackups', () => kvError('Transient', 'storage down'));
      await handle(resourceDeletedEvent(vaultResourceId('contoso')));
      expect(received[0]).toMatchObject({
        type: ALERT_TYPES.vaultDeleted,
        data: { backedUpObjects: 0, countComplete: false },
      });
      expect(received[0]!.summary).toContain('at least 0 objects');
    });
  });
});
