import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { REQUEST_ID_HEADER } from '../../src/functions/http';

/** Largest request body the dev host reads (the Functions host allows 100 MB; kvguard's bodies are small). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Thrown when a body exceeds {@link MAX_BODY_BYTES}. */
export class BodyTooLargeError extends Error {
  constructor() {
    super(`request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
}

/** Reads the whole request body. */
export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Sends a complete answer. */
export function send(
  response: ServerResponse,
  status: number,
  body: string | Buffer = '',
  headers: Record<string, string> = {},
): void {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  response.writeHead(status, { ...headers, 'content-length': String(payload.length) });
  response.end(payload);
}

/** Sends a JSON answer. */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, JSON.stringify(body), { 'content-type': 'application/json; charset=utf-8' });
}

/** Why the host itself refuses a request, in the shape the functions' own errors take. */
const HOST_ERRORS = {
  401: { code: 'Unauthorized', message: 'a valid function key is required (x-functions-key header or code query)' },
  404: { code: 'NotFound', message: 'no function answers this path and method' },
} as const;

/**
 * Answers a host-level 401 or 404 with the body kvguard's functions use, `{ "error": { code, message } }`, so a
 * client reads every refusal the same way (the Azure Functions host itself sends an empty body).
 * @param response - the response to write
 * @param status - 401 or 404
 * @param message - a more precise message than the default one
 */
export function sendHostError(response: ServerResponse, status: keyof typeof HOST_ERRORS, message?: string): void {
  const error = HOST_ERRORS[status];
  // A request id like the functions' own answers, so a refusal can be told apart in logs as theirs can.
  const requestId = randomUUID();
  send(
    response,
    status,
    JSON.stringify({ error: { code: error.code, message: message ?? error.message, requestId } }),
    {
      'content-type': 'application/json; charset=utf-8',
      [REQUEST_ID_HEADER]: requestId,
    },
  );
}

/** The request's headers as single strings (repeated headers joined with `, `, as HTTP allows). */
export function flatHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}
