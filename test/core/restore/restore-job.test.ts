import { describe, expect, it } from 'vitest';
import { requestRestore } from '../../../src/core/restore/request-restore';
import {
  readRestoreReport,
  restoreStateKey,
  runRestoreJob,
  type RestoreJobState,
} from '../../../src/core/restore/restore-job';
import { ASYNC_RESTORE_THRESHOLD } from '../../../src/core/restore/restore-settings';
import { kvError } from '../../support/in-memory';
import { destroy, restoreWorld } from './harness';

/** A vault of `count` keys, all backed up and then destroyed. */
async function lostVault(count: number) {
  const world = restoreWorld();
  const names = Array.from({ length: count }, (_, i) => `key-${i}`);
  for (const name of names) {
    world.prod.seedKey(name, { versions: 2 });
    await world.backUp(world.prod, 'key', name);
    await destroy(world.prod, 'key', name);
  }
  return { world, names };
}

describe('whole-vault restores as queue jobs', () => {
  it('queues a large whole-vault restore and the job restores it with progress and a final audit entry', async () => {
    const { world, names } = await lostVault(ASYNC_RESTORE_THRESHOLD + 2);

    const queued = await requestRestore(
      world.deps,
      world.request(),
      { principal: 'alice', allowJob: true },
      world.settings,
    );

    expect(queued.status).toBe('queued');
    expect(queued.progress).toEqual({ total: names.length, done: 0 });
    expect(world.prod.callCount('restore')).toBe(0);
    expect(world.restoreQueue.jobs).toEqual([{ kind: 'restore', requestId: queued.requestId }]);
    expect(world.store.auditEntries()[0]).toMatchObject({ requestId: queued.requestId, outcome: 'queued' });

    const [job] = world.restoreQueue.drain();
    const finished = await runRestoreJob(world.deps, job!, world.settings);

    expect(finished?.status).toBe('succeeded');
    expect(finished?.counts.restored).toBe(names.length);
    expect(world.prod.liveNames('key')).toEqual(names);
    const report = await readRestoreReport(world.state, queued.requestId);
    expect(report).toMatchObject({ status: 'succeeded', progress: { total: names.length, done: names.length } });
    expect(world.store.auditEntries().map((e) => e.outcome)).toEqual(['queued', 'started', 'succeeded']);
  });

  it('runs small whole-vault restores and dry runs inside the request', async () => {
    const { world } = await lostVault(ASYNC_RESTORE_THRESHOLD + 2);

    const dry = await requestRestore(
      world.deps,
      world.request({ dryRun: true }),
      { principal: 'alice', allowJob: true },
      world.settings,
    );
    expect(dry.status).toBe('planned');
    const one = await requestRestore(
      world.deps,
      world.request({ name: 'key-0' }),
      { principal: 'alice', allowJob: true },
      world.settings,
    );
    expect(one.status).toBe('succeeded');
    expect(world.restoreQueue.jobs).toEqual([]);
  });

  it('leaves a job alone while another invocation holds its lease, and retries it later', async () => {
    const { world } = await lostVault(ASYNC_RESTORE_THRESHOLD + 1);
    const queued = await requestRestore(
      world.deps,
      world.request(),
      { principal: 'alice', allowJob: true },
      world.settings,
    );
    const [job] = world.restoreQueue.drain();
    const doc = await world.state.read<RestoreJobState>(restoreStateKey(queued.requestId));
    const leaseUntil = new Date(world.clock.now().getTime() + 90_000).toISOString();
    await world.state.write(restoreStateKey(queued.requestId), {
      ...doc!.value,
      leaseUntil,
      report: { ...doc!.value.report, status: 'running' },
    });

    await runRestoreJob(world.deps, job!, world.settings);

    expect(world.prod.callCount('restore')).toBe(0);
    expect(world.restoreQueue.sent).toEqual([{ job, delaySeconds: 91 }]);
  });

  it('hands the rest to a follow-up message when its time is nearly up, and resumes without redoing objects', async () => {
    const { world, names } = await lostVault(12);
    const queued = await requestRestore(
      world.deps,
      world.request(),
      { principal: 'alice', allowJob: true },
      { ...world.settings, concurrency: 1 },
    );
    const [job] = world.restoreQueue.drain();
    // Each restore takes 10 s of (manual) time, so a 60 s invocation starts only the first few objects.
    world.prod.failWhen('restore', () => (world.clock.advance(10_000), false), new Error('never thrown'));

    const first = await runRestoreJob(world.deps, job!, { ...world.settings, concurrency: 1 });

    expect(first?.status).toBe('running');
    expect(first!.progress.done).toBeGreaterThan(0);
    expect(first!.progress.done).toBeLessThan(names.length);
    expect(world.restoreQueue.jobs).toEqual([job]);

    let report = first;
    for (let i = 0; i < 10 && report?.status === 'running'; i++)
      report = await runRestoreJob(world.deps, world.restoreQueue.drain()[0]!, world.settings);

    expect(report?.status).toBe('succeeded');
    expect(report?.objects.map((o) => o.name).sort()).toEqual([...names].sort());
    expect(world.prod.callCount('restore')).toBe(names.length);
    expect((await readRestoreReport(world.state, queued.requestId)).status).toBe('succeeded');
  });

  it('refuses everything when a conflict appeared between the request and the job (onConflict fail)', async () => {
    const { world } = await lostVault(ASYNC_RESTORE_THRESHOLD + 1);
    await requestRestore(world.deps, world.request(), { principal: 'alice', allowJob: true }, world.settings);
    world.prod.seedKey('key-3');

    const report = await runRestoreJob(world.deps, world.restoreQueue.drain()[0]!, world.settings);

    expect(report?.status).toBe('conflict');
    expect(world.prod.liveNames('key')).toEqual(['key-3']);
  });

  it('treats a message for a finished request as done, and one for an unknown request as dropped', async () => {
    const { world } = await lostVault(ASYNC_RESTORE_THRESHOLD + 1);
    await requestRestore(world.deps, world.request(), { principal: 'alice', allowJob: true }, world.settings);
    const [job] = world.restoreQueue.drain();
    await runRestoreJob(world.deps, job!, world.settings);
    const restores = world.prod.callCount('restore');

    expect((await runRestoreJob(world.deps, job!, world.settings))?.status).toBe('succeeded');
    expect(world.prod.callCount('restore')).toBe(restores);
    expect(await runRestoreJob(world.deps, { kind: 'restore', requestId: 'nope' }, world.settings)).toBeUndefined();
    expect(world.logger.messages('error')).toContain('restore job names an unknown request; dropped');
  });

  it('records the failure when the job message cannot be sent', async () => {
    const { world } = await lostVault(ASYNC_RESTORE_THRESHOLD + 1);
    world.restoreQueue.failNext(kvError('Transient', 'queue unavailable'));

    await expect(
      requestRestore(world.deps, world.request(), { principal: 'alice', allowJob: true }, world.settings),
    ).rejects.toMatchObject({ code: 'Transient' });

    const [key] = world.state.keys();
    const doc = await world.state.read<RestoreJobState>(key!);
    expect(doc?.value.report).toMatchObject({ status: 'failed', error: { code: 'Transient' } });
  });

  it('pins asOf when queued, so an object backed up after the request is not restored by the job', async () => {
    const { world } = await lostVault(ASYNC_RESTORE_THRESHOLD + 1);
    await requestRestore(world.deps, world.request(), { principal: 'alice', allowJob: true }, world.settings);
    world.clock.advance(60_000);
    world.prod.seedKey('late-key');
    await world.backUp(world.prod, 'key', 'late-key');
    await destroy(world.prod, 'key', 'late-key');

    const report = await runRestoreJob(world.deps, world.restoreQueue.drain()[0]!, world.settings);

    expect(report?.status).toBe('succeeded');
    expect(report?.absent).toEqual([expect.objectContaining({ name: 'late-key' })]);
    expect(world.prod.inspect('key', 'late-key')).toBeUndefined();
  });
});
