import type { Timer } from '@azure/functions';
import type { Cron } from 'croner';
import { parseNcrontab } from '../../src/ncrontab';
import type { TimerFunctionDefinition } from '../../src/functions/definition';
import { resolveSettingReferences } from '../../src/config';
import type { InvocationOutcome, InvocationRunner } from './invocation';
import type { HostLogger } from './logger';

/** What the Functions host reports as `scheduleStatus.last` before the first occurrence (.NET `DateTime.MinValue`). */
const NEVER = '0001-01-01T00:00:00.000Z';

interface ScheduledTimer {
  definition: TimerFunctionDefinition;
  cron: Cron;
  lastRun?: Date;
}

/**
 * Timer triggers: NCRONTAB schedules (six fields, seconds first; `%SETTING%` resolved from the settings), in UTC
 * unless `WEBSITE_TIME_ZONE` names an IANA zone, `runOnStartup`, and no overlapping runs of one function (the
 * host holds a singleton lock per timer function and skips occurrences missed while a run is in progress).
 */
export class TimerFunctions {
  private readonly timers = new Map<string, ScheduledTimer>();

  constructor(
    definitions: TimerFunctionDefinition[],
    settings: Record<string, string>,
    private readonly runner: InvocationRunner,
    private readonly logger: HostLogger,
  ) {
    const timezone = settings.WEBSITE_TIME_ZONE || 'UTC';
    for (const definition of definitions) {
      const where = `timer function ${definition.name}`;
      const schedule = resolveSettingReferences(definition.schedule, settings);
      let cron: Cron;
      try {
        cron = parseNcrontab(schedule, timezone, async () => {
          await this.fire(definition.name, `Timer fired at ${new Date().toISOString()}`);
        });
      } catch (error) {
        throw new Error(
          `${where}: schedule ${JSON.stringify(schedule)} is not a valid NCRONTAB expression (${(error as Error).message})`,
          { cause: error },
        );
      }
      this.timers.set(definition.name.toLowerCase(), { definition, cron });
    }
  }

  /** Starts every schedule and the `runOnStartup` invocations. */
  start(): void {
    for (const timer of this.timers.values()) {
      timer.cron.resume();
      this.logger.host(
        'information',
        `Timer '${timer.definition.name}' next occurrence ${timer.cron.nextRun()?.toISOString()}`,
        {
          function: timer.definition.name,
        },
      );
      if (timer.definition.runOnStartup) void this.fire(timer.definition.name, 'Timer fired at startup (runOnStartup)');
    }
  }

  /** True when `name` is a timer function. */
  has(name: string): boolean {
    return this.timers.has(name.toLowerCase());
  }

  /** Invokes a timer function now, as the admin API does; resolves with its outcome. */
  async fire(name: string, reason: string): Promise<InvocationOutcome<void>> {
    const timer = this.timers.get(name.toLowerCase());
    if (!timer) throw new Error(`no timer function named ${JSON.stringify(name)}`);
    const now = new Date();
    const input: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: true },
      scheduleStatus: {
        last: timer.lastRun?.toISOString() ?? NEVER,
        next: timer.cron.nextRun()?.toISOString() ?? NEVER,
        lastUpdated: now.toISOString(),
      },
    };
    timer.lastRun = now;
    return this.runner.run(timer.definition, reason, (context) => timer.definition.handler(input, context));
  }

  /** Stops every schedule (running invocations finish on their own). */
  stop(): void {
    for (const timer of this.timers.values()) timer.cron.stop();
  }
}
