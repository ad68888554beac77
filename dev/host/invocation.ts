import { randomUUID } from 'node:crypto';
import { InvocationContext, type TriggerMetadata } from '@azure/functions';
import type { FunctionDefinition } from '../../src/functions/definition';
import type { HostLogger } from './logger';

/** The reason the Functions host logs for an invocation through its APIs (HTTP, admin, a test's `runTimer`). */
export const HOST_API_REASON = 'This function was programmatically called via the host APIs.';

/** How one invocation ended. */
export type InvocationOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** The binding type the Functions host reports for each trigger kind (`context.options.trigger.type`). */
const TRIGGER_TYPES: Record<FunctionDefinition['trigger'], string> = {
  http: 'httpTrigger',
  timer: 'timerTrigger',
  queue: 'queueTrigger',
  eventGrid: 'eventGridTrigger',
};

/**
 * Runs invocations the way the Functions host does: a fresh `InvocationContext`, "Executing"/"Executed" records,
 * and a thrown error turned into a failed outcome instead of a crash. Counts what is in flight so tests can wait
 * for the host to be idle.
 */
export class InvocationRunner {
  private running = 0;
  private readonly settledListeners = new Set<() => void>();

  constructor(private readonly logger: HostLogger) {}

  /** Invocations currently running. */
  get active(): number {
    return this.running;
  }

  /**
   * Invokes `call` with a new context for `definition`.
   * @param reason - why it runs, as the Functions host words it (e.g. "This function was programmatically called").
   */
  async run<T>(
    definition: FunctionDefinition,
    reason: string,
    call: (context: InvocationContext) => Promise<T>,
    triggerMetadata?: TriggerMetadata,
  ): Promise<InvocationOutcome<T>> {
    const invocationId = randomUUID();
    const context = new InvocationContext({
      invocationId,
      functionName: definition.name,
      logHandler: this.logger.invocation(definition.name, invocationId),
      triggerMetadata,
      options: { trigger: { type: TRIGGER_TYPES[definition.trigger], name: definition.trigger } },
    });
    const started = Date.now();
    const ids = { function: definition.name, invocationId };
    this.running += 1;
    this.logger.host(
      'information',
      `Executing 'Functions.${definition.name}' (Reason='${reason}', Id=${invocationId})`,
      ids,
    );
    try {
      const value = await call(context);
      this.logger.host(
        'information',
        `Executed 'Functions.${definition.name}' (Succeeded, Id=${invocationId}, Duration=${Date.now() - started}ms)`,
        ids,
      );
      return { ok: true, value };
    } catch (error) {
      this.logger.host(
        'error',
        `Executed 'Functions.${definition.name}' (Failed, Id=${invocationId}, Duration=${Date.now() - started}ms)`,
        {
          ...ids,
          error: describeError(error),
        },
      );
      return { ok: false, error };
    } finally {
      this.running -= 1;
      for (const listener of this.settledListeners) listener();
    }
  }

  /** Resolves once nothing runs, or after `timeoutMs` (answering whether it got idle). */
  async whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.running === 0) return true;
    return new Promise((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        this.settledListeners.delete(check);
        resolve(idle);
      };
      const check = () => this.running === 0 && done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.settledListeners.add(check);
    });
  }
}

/** Name and message of a thrown value, without its stack (which the host keeps out of answers and logs). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return typeof error === 'string' ? error : 'non-Error value thrown';
}
