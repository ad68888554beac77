import type { Timer } from '@azure/functions';
import { afterEach, describe, expect, it } from 'vitest';
import type { FunctionDefinition } from '../../../src/functions/definition';
import { startDevHost, type RunningDevHost } from '../../../dev/host';

describe('dev host: timer functions', () => {
  let host: RunningDevHost | undefined;
  afterEach(async () => {
    await host?.stop();
    host = undefined;
  });

  const recordingTimer = (
    name: string,
    schedule: string,
    runs: Timer[],
    extra: Partial<FunctionDefinition> = {},
  ): FunctionDefinition =>
    ({
      trigger: 'timer',
      name,
      schedule,
      handler: async (timer: Timer) => {
        runs.push(timer);
      },
      ...extra,
    }) as FunctionDefinition;

  it('fires on its NCRONTAB schedule (six fields, seconds first) resolved from a %SETTING%', async () => {
    const runs: Timer[] = [];
    const started = Date.now();
    host = await startDevHost({
      definitions: [recordingTimer('everySecond', '%TEST_SCHEDULE%', runs)],
      settings: { TEST_SCHEDULE: '* * * * * *' },
      logSink: () => undefined,
    });
    const deadline = Date.now() + 30_000; // a hang detector: on a loaded machine a timer may fire late
    while (runs.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0]).toMatchObject({ isPastDue: false, schedule: { adjustForDST: true } });
    expect(Date.parse(runs[0]!.scheduleStatus.next)).toBeGreaterThan(started);
    expect(runs[1]!.scheduleStatus.last).toBe(runs[0]!.scheduleStatus.lastUpdated);
  });

  it('runs on startup when runOnStartup is set, and otherwise waits for its schedule', async () => {
    const eager: Timer[] = [];
    const lazy: Timer[] = [];
    host = await startDevHost({
      definitions: [
        recordingTimer('eager', '0 0 3 * * *', eager, { runOnStartup: true }),
        recordingTimer('lazy', '0 0 3 * * *', lazy),
      ],
      settings: {},
      logSink: () => undefined,
    });
    await host.idle();
    expect(eager).toHaveLength(1);
    expect(lazy).toHaveLength(0);
  });

  it('runs a timer function through the admin API (202) and in-process with runTimer', async () => {
    const runs: Timer[] = [];
    host = await startDevHost({
      definitions: [recordingTimer('nightly', '0 0 3 * * *', runs)],
      settings: {},
      logSink: () => undefined,
    });
    const answer = await fetch(`${host.url}/admin/functions/nightly`, {
      method: 'POST',
      headers: { 'x-functions-key': host.masterKey, 'content-type': 'application/json' },
      body: '{"input":""}',
    });
    expect(answer.status).toBe(202);
    await host.idle();
    await host.runTimer('nightly');
    expect(runs).toHaveLength(2);
    expect(runs[0]!.scheduleStatus.last).toBe('0001-01-01T00:00:00.000Z');
  });

  it('rejects runTimer when the timer function fails', async () => {
    host = await startDevHost({
      definitions: [
        {
          trigger: 'timer',
          name: 'failing',
          schedule: '0 0 3 * * *',
          handler: async () => {
            throw new Error('boom');
          },
        },
      ],
      settings: {},
      logSink: () => undefined,
    });
    await expect(host.runTimer('failing')).rejects.toThrow(/failing failed: Error: boom/);
  });

  it('refuses to start with a schedule that is not NCRONTAB or a setting that is missing', async () => {
    const start = (schedule: string) =>
      startDevHost({ definitions: [recordingTimer('bad', schedule, [])], settings: {}, logSink: () => undefined });
    await expect(start('0 */5 * * *')).rejects.toThrow(
      /timer function bad: schedule "0 \*\/5 \* \* \*" is not a valid NCRONTAB/,
    );
    await expect(start('%MISSING_SCHEDULE%')).rejects.toThrow(
      'MISSING_SCHEDULE (referenced as %MISSING_SCHEDULE%) is not set and has no default',
    );
  });
});
