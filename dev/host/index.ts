import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  EventGridFunctionDefinition,
  FunctionDefinition,
  HttpFunctionDefinition,
  QueueFunctionDefinition,
  TimerFunctionDefinition,
} from '../../src/functions/definition';
import { AdminApi } from './admin';
import { EVENT_GRID_WEBHOOK_PATH, EventGridWebhook } from './event-grid';
import { HttpFunctions, ROUTE_PREFIX } from './http-functions';
import { send, sendHostError } from './http-io';
import { describeError, HOST_API_REASON, InvocationRunner } from './invocation';
import { generateKey, type HostKeys } from './keys';
import { HostLogger, stdoutJsonSink, type LogSink } from './logger';
import { QueueListener, type QueueTriggerOptions } from './queues';
import { TimerFunctions } from './timers';

export type { LogRecord, LogSink } from './logger';
export { encodeMessage } from './queues';

/** Options of {@link startDevHost}. */
export interface DevHostOptions {
  /** The function definitions to run: `functionDefinitions` from `src/functions`, or test-only ones. */
  definitions: FunctionDefinition[];
  /** App settings; applied to `process.env` before any function runs (and restored on stop). */
  settings: Record<string, string>;
  /** HTTP port; 0 (default) picks a free one; `npm start` uses 7071 like Core Tools. */
  port?: number;
  /** Interface to listen on (default: all, like Core Tools). */
  hostname?: string;
  /** Function key; generated when absent. */
  functionKey?: string;
  /** Master key (admin API; also accepted wherever a function key is); generated when absent. */
  masterKey?: string;
  /** Longest wait between polls of an empty queue, in ms (default 1,000). */
  queuePollMs?: number;
  /** Seconds a failed queue message stays invisible before its next attempt (host default 0). */
  visibilityTimeoutSeconds?: number;
  /** Attempts before a queue message goes to `<queue>-poison` (default 5). */
  maxDequeueCount?: number;
  /** Queue messages fetched at once per queue (host default 16). */
  batchSize?: number;
  /** A queue fetches its next batch when fewer than this many of its messages run (host default batchSize / 2). */
  newBatchThreshold?: number;
  /** Where log records go (default: one JSON line each on stdout). */
  logSink?: LogSink;
}

/** A running dev host. */
export interface RunningDevHost {
  /** Base URL, e.g. `http://localhost:7071`. */
  url: string;
  functionKey: string;
  masterKey: string;
  /** Runs a timer function now and resolves when it finished; rejects when it failed. */
  runTimer(name: string): Promise<void>;
  /** Resolves once no invocation runs and every trigger queue is empty (for tests); rejects after `timeoutMs`. */
  idle(timeoutMs?: number): Promise<void>;
  /** Stops timers, queue polling and the HTTP server, waits for running invocations, restores `process.env`. */
  stop(): Promise<void>;
}

const IDLE_CHECK_MS = 25;
const STOP_GRACE_MS = 5_000;

/**
 * Starts the dev host: runs `definitions` in-process the way the Azure Functions host runs them (HTTP routes under
 * `/api/` with function keys, the Event Grid webhook, NCRONTAB timers, Storage Queue triggers, the admin API).
 */
export async function startDevHost(options: DevHostOptions): Promise<RunningDevHost> {
  const logger = new HostLogger(options.logSink ?? stdoutJsonSink);
  const keys: HostKeys = {
    functionKey: options.functionKey ?? generateKey(),
    masterKey: options.masterKey ?? generateKey(),
  };
  const restoreEnv = applySettings(options.settings);
  const runner = new InvocationRunner(logger);
  const byKind = splitByTrigger(options.definitions);
  const queueOptions = queueTriggerOptions(options);
  let timers: TimerFunctions | undefined;
  const listeners: QueueListener[] = [];
  let server: Server | undefined;
  try {
    timers = new TimerFunctions(byKind.timer, options.settings, runner, logger);
    for (const definition of byKind.queue) {
      listeners.push(await QueueListener.create(definition, options.settings, queueOptions, runner, logger));
    }
    const http = new HttpFunctions(byKind.http, keys, runner);
    const eventGrid = new EventGridWebhook(byKind.eventGrid, keys, runner, logger);
    const admin = new AdminApi(
      options.definitions,
      keys,
      (definition, input) => void invokeFromAdmin(definition, input),
    );
    server = createServer((request, response) => {
      dispatch(request, response, { http, eventGrid, admin }).catch((error: unknown) => {
        logger.host('error', `Request failed: ${describeError(error)}`, { path: request.url?.split('?')[0] });
        if (!response.headersSent) send(response, 500);
        else response.destroy();
      });
    });
    const port = await listen(server, options.port ?? 0, options.hostname);
    const url = `http://localhost:${port}`;
    timers.start();
    for (const listener of listeners) listener.start();
    logger.host('information', `Dev host listening on ${url} with ${options.definitions.length} functions`, {
      functions: options.definitions.map((d) => `${d.name} (${d.trigger})`),
    });
    return {
      url,
      functionKey: keys.functionKey,
      masterKey: keys.masterKey,
      runTimer: async (name) => {
        const outcome = await timers!.fire(name, HOST_API_REASON);
        if (!outcome.ok) throw new Error(`timer function ${name} failed: ${describeError(outcome.error)}`);
      },
      idle: (timeoutMs = 30_000) => waitUntilIdle(runner, listeners, timeoutMs),
      stop: () => stopAll(),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }

  async function invokeFromAdmin(definition: FunctionDefinition, input: string | undefined): Promise<void> {
    switch (definition.trigger) {
      case 'timer':
        await timers!.fire(definition.name, HOST_API_REASON);
        return;
      case 'queue':
      case 'eventGrid': {
        const payload = input === undefined ? undefined : parseInput(input);
        await runner.run(definition, HOST_API_REASON, (context) => definition.handler(payload, context));
        return;
      }
      case 'http':
        return;
    }
  }

  async function stopAll(): Promise<void> {
    timers?.stop();
    await Promise.allSettled(listeners.map((listener) => listener.stop()));
    const closed = server?.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined;
    server?.closeIdleConnections();
    // Like the Functions host on shutdown: running invocations get a grace period, then are abandoned (a queue
    // message then simply becomes visible again).
    if (!(await runner.whenIdle(STOP_GRACE_MS))) {
      logger.host('warning', `Stopping with ${runner.active} invocations still running`);
    }
    server?.closeAllConnections();
    await closed;
    restoreEnv();
  }
}

async function dispatch(
  request: IncomingMessage,
  response: ServerResponse,
  routes: { http: HttpFunctions; eventGrid: EventGridWebhook; admin: AdminApi },
): Promise<void> {
  const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`);
  const path = url.pathname.toLowerCase();
  if (path === `/${ROUTE_PREFIX}` || path.startsWith(`/${ROUTE_PREFIX}/`))
    return routes.http.handle(request, response, url);
  if (path === EVENT_GRID_WEBHOOK_PATH || path === `${EVENT_GRID_WEBHOOK_PATH}/`)
    return routes.eventGrid.handle(request, response, url);
  if (path.startsWith('/admin/')) return routes.admin.handle(request, response, url);
  if (path === '/' && (request.method === 'GET' || request.method === 'HEAD')) {
    return send(response, 200, 'kvguard dev host is running', { 'content-type': 'text/plain; charset=utf-8' });
  }
  sendHostError(response, 404);
}

function splitByTrigger(definitions: FunctionDefinition[]) {
  const names = new Set<string>();
  for (const definition of definitions) {
    const name = definition.name.toLowerCase();
    if (names.has(name)) throw new Error(`two functions are named ${JSON.stringify(definition.name)}`);
    names.add(name);
  }
  return {
    http: definitions.filter((d): d is HttpFunctionDefinition => d.trigger === 'http'),
    timer: definitions.filter((d): d is TimerFunctionDefinition => d.trigger === 'timer'),
    queue: definitions.filter((d): d is QueueFunctionDefinition => d.trigger === 'queue'),
    eventGrid: definitions.filter((d): d is EventGridFunctionDefinition => d.trigger === 'eventGrid'),
  };
}

function queueTriggerOptions(options: DevHostOptions): QueueTriggerOptions {
  const batchSize = Math.min(Math.max(options.batchSize ?? 16, 1), 32);
  return {
    maxDequeueCount: options.maxDequeueCount ?? 5,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 0,
    batchSize,
    newBatchThreshold: options.newBatchThreshold ?? Math.floor(batchSize / 2),
    maxPollingIntervalMs: options.queuePollMs ?? 1_000,
  };
}

/** The admin API's input text as a trigger would deliver it: parsed JSON, else the text. */
function parseInput(input: string): unknown {
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

/** Applies settings to `process.env`; answers a function that puts the previous values back. */
function applySettings(settings: Record<string, string>): () => void {
  const previous = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(settings)) {
    previous.set(name, process.env[name]);
    process.env[name] = value;
  }
  return () => {
    for (const [name, value] of previous) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

function listen(server: Server, port: number, hostname: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function waitUntilIdle(runner: InvocationRunner, listeners: QueueListener[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (runner.active === 0) {
      const drained = await Promise.all(listeners.map((listener) => listener.isDrained()));
      if (drained.every(Boolean) && runner.active === 0) return;
    }
    await sleep(IDLE_CHECK_MS);
  }
  throw new Error(`dev host still busy after ${timeoutMs} ms (${runner.active} invocations running)`);
}
