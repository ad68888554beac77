import { format } from 'node:util';
import type { LogHandler, LogLevel } from '@azure/functions';

/** One structured log record: the dev host writes each as one JSON line. */
export interface LogRecord {
  time: string;
  level: LogLevel;
  /** `host` for the dev host's own records, `function` for what a function logs through its context. */
  category: 'host' | 'function';
  message: string;
  function?: string;
  invocationId?: string;
  [property: string]: unknown;
}

/** Where log records go. */
export type LogSink = (record: LogRecord) => void;

/** Longest message kept; a runaway log call must not flood the terminal. */
const MAX_MESSAGE_CHARS = 8_000;

/** Writes each record as one JSON line to stdout. */
export const stdoutJsonSink: LogSink = (record) => {
  process.stdout.write(`${JSON.stringify(record)}\n`);
};

/** The dev host's logger: its own records and the per-invocation handlers given to `InvocationContext`. */
export class HostLogger {
  constructor(private readonly sink: LogSink) {}

  /** Logs a record of the host itself; `properties` must never hold request bodies or secrets. */
  host(level: LogLevel, message: string, properties: Record<string, unknown> = {}): void {
    this.write({ time: new Date().toISOString(), level, category: 'host', ...properties, message });
  }

  /** A `LogHandler` for one invocation, tagging every record with the function and invocation id. */
  invocation(functionName: string, invocationId: string): LogHandler {
    return (level, ...args) =>
      this.write({
        time: new Date().toISOString(),
        level,
        category: 'function',
        function: functionName,
        invocationId,
        message: format(...args),
      });
  }

  private write(record: LogRecord): void {
    if (record.message.length > MAX_MESSAGE_CHARS) record.message = `${record.message.slice(0, MAX_MESSAGE_CHARS)}…`;
    try {
      this.sink(record);
    } catch {
      // A broken sink (closed stdout) must not take an invocation down with it.
    }
  }
}
