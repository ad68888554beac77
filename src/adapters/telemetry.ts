/**
 * Telemetry and logs. With an Application Insights connection string, events and metrics go to Application
 * Insights (`applicationinsights` 3.x `TelemetryClient`, loaded only then); otherwise they become structured JSON log
 * lines. Every property bag is scrubbed first: a property named like secret material never leaves with its value.
 */
import type * as AppInsights from 'applicationinsights';
import type { Logger, Telemetry } from '../core/ports';

/** Property names whose values are never emitted (secret values, passwords, key material, tokens, connection strings). */
const SECRET_NAME =
  /secret|passw|pwd|token|credential|connectionstring|privatekey|keymaterial|apikey|accountkey|signature|^key$|^value$|value$|^bytes$|backup(bytes|blob)$/i;
const REDACTED = '[redacted]';
const MAX_DEPTH = 5;

/** A copy of `properties` with every secret-looking property's value replaced, nested objects included. */
export function scrub<T>(properties: T, depth = 0): T {
  if (properties === null || typeof properties !== 'object') return properties;
  if (properties instanceof Date) return properties;
  if (properties instanceof Uint8Array) return `<${properties.byteLength} bytes>` as unknown as T;
  if (properties instanceof Error)
    return { name: properties.name, message: properties.message, code: (properties as { code?: unknown }).code } as T;
  if (depth >= MAX_DEPTH) return '[nested]' as unknown as T;
  if (Array.isArray(properties)) return (properties as unknown[]).map((item) => scrub(item, depth + 1)) as T;
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(properties)) {
    copy[name] = SECRET_NAME.test(name) && value !== undefined ? REDACTED : scrub(value, depth + 1);
  }
  return copy as T;
}

type LineWriter = (line: string) => void;

/**
 * A logger that writes one JSON object per line: info to stdout, warnings and errors to stderr.
 * @param name - the component, e.g. `kvguard` or `kvguard-cli`
 * @param writers - where lines go (tests)
 */
export function createConsoleLogger(name: string, writers: { out?: LineWriter; err?: LineWriter } = {}): Logger {
  const out = writers.out ?? ((line) => process.stdout.write(`${line}\n`));
  const err = writers.err ?? ((line) => process.stderr.write(`${line}\n`));
  const write = (level: 'info' | 'warn' | 'error', message: string, properties?: Record<string, unknown>) => {
    const record = { time: new Date().toISOString(), level, logger: name, message, ...scrub(properties ?? {}) };
    (level === 'info' ? out : err)(JSON.stringify(record));
  };
  return {
    info: (message, properties) => write('info', message, properties),
    warn: (message, properties) => write('warn', message, properties),
    error: (message, properties) => write('error', message, properties),
  };
}

/** Options of {@link createTelemetry}. */
export interface TelemetryOptions {
  /** `APPLICATIONINSIGHTS_CONNECTION_STRING`; without it, telemetry becomes log lines. */
  connectionString?: string;
  /** Where telemetry goes without Application Insights (and where its failures are reported). */
  logger: Logger;
}

/** {@link Telemetry} with a way to send what is buffered (before a CLI exits). */
export interface FlushableTelemetry extends Telemetry {
  /** Sends buffered telemetry. */
  flush(): Promise<void>;
}

/** Creates the telemetry for the configuration. */
export function createTelemetry(options: TelemetryOptions): FlushableTelemetry {
  return options.connectionString
    ? appInsightsTelemetry(options.connectionString, options.logger)
    : logTelemetry(options.logger);
}

function logTelemetry(logger: Logger): FlushableTelemetry {
  return {
    event: (name, properties = {}, measurements = {}) =>
      logger.info(`telemetry event ${name}`, { event: name, properties: scrub(properties), measurements }),
    metric: (name, value, properties = {}) =>
      logger.info(`telemetry metric ${name}`, { metric: name, metricValue: value, properties: scrub(properties) }),
    flush: async () => {},
  };
}

function appInsightsTelemetry(connectionString: string, logger: Logger): FlushableTelemetry {
  // Loaded only when configured: the package sets up OpenTelemetry instrumentation as it starts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { TelemetryClient } = require('applicationinsights') as typeof AppInsights;
  const client = new TelemetryClient(connectionString);
  const guarded = (what: string, send: () => void) => {
    try {
      send();
    } catch (error) {
      logger.warn('Application Insights refused telemetry', { what, error: scrub(error) });
    }
  };
  return {
    event: (name, properties = {}, measurements = {}) =>
      guarded(name, () => client.trackEvent({ name, properties: scrub(properties), measurements })),
    metric: (name, value, properties = {}) =>
      guarded(name, () => client.trackMetric({ name, value, properties: scrub(properties) })),
    flush: () => client.flush(),
  };
}
