import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';

/** HTTP methods kvguard's routes use. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** An HTTP-triggered function: served under `/api/<route>`. */
export interface HttpFunctionDefinition {
  trigger: 'http';
  name: string;
  /** Route template under `/api/`, e.g. `restore/{id}`. */
  route: string;
  methods: HttpMethod[];
  /** `function`: the caller must present a function key (`x-functions-key` header or `code` query). */
  authLevel: 'anonymous' | 'function';
  handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
}

/** A timer-triggered function. */
export interface TimerFunctionDefinition {
  trigger: 'timer';
  name: string;
  /** NCRONTAB (six fields) or a `%SETTING%` reference resolved from the app settings, as the Functions host does. */
  schedule: string;
  runOnStartup?: boolean;
  handler: (timer: Timer, context: InvocationContext) => Promise<void>;
}

/** A Storage Queue-triggered function (messages are base64-encoded JSON, the Functions host's default). */
export interface QueueFunctionDefinition {
  trigger: 'queue';
  name: string;
  /** Queue name or `%SETTING%` reference. */
  queueName: string;
  /** App-setting prefix of the storage connection (`KVGUARD_STORAGE` or `KVGUARD_STORAGE__queueServiceUri`). */
  connection: string;
  /** Receives the decoded message (parsed JSON when it is JSON, else text); validates it itself. */
  handler: (message: unknown, context: InvocationContext) => Promise<void>;
}

/** An Event Grid-triggered function; receives one event (Event Grid schema or CloudEvents 1.0) per invocation. */
export interface EventGridFunctionDefinition {
  trigger: 'eventGrid';
  name: string;
  /** Receives the raw event object; validates it itself. */
  handler: (event: unknown, context: InvocationContext) => Promise<void>;
}

/** Any function kvguard defines; `src/index.ts` and the dev host register the same list of these. */
export type FunctionDefinition =
  HttpFunctionDefinition | TimerFunctionDefinition | QueueFunctionDefinition | EventGridFunctionDefinition;
