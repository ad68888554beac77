/**
 * NCRONTAB, the timer-trigger schedule format of Azure Functions (six fields, seconds first), read by croner with the
 * options that make it behave like the Functions host. Production validates settings with it and the dev host runs
 * its timers with it, so a schedule the dev host accepts is exactly one the settings accept.
 */
import { Cron, type CronCallback } from 'croner';

/**
 * Parses a schedule; throws croner's error (naming the bad part) when it is not valid NCRONTAB.
 * @param schedule - the expression, e.g. `0 0 2 * * *`
 * @param timezone - IANA zone the schedule runs in (the host's WEBSITE_TIME_ZONE; default UTC)
 * @param onTick - what a running timer invokes; without it the parsed schedule runs nothing
 */
export function parseNcrontab(schedule: string, timezone = 'UTC', onTick?: CronCallback): Cron {
  // NCRONTAB matches a day only when both day-of-month and day-of-week match (unlike Vixie cron's OR).
  const options = { mode: '6-part', timezone, paused: true, protect: true, domAndDow: true } as const;
  return onTick ? new Cron(schedule, options, onTick) : new Cron(schedule, options);
}

/** Why a schedule is not valid NCRONTAB, or undefined when it is. */
export function ncrontabProblem(schedule: string): string | undefined {
  try {
    parseNcrontab(schedule).stop();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message.replace(/^CronPattern: /, '') : String(error);
  }
}
