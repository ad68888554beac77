import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { randomUUID } from 'node:crypto';
import { describeError, KvGuardError, type ErrorCode } from '../core/errors';
import type { Services } from '../composition';
import type { PrincipalVerifier } from '../core/ports';
import { boundedPrincipalName } from '../core/principal-name';
import { parseStrictJson } from '../core/strict-json';

/**
 * The one place that turns kvguard's error kinds into HTTP answers. Bodies carry a stable code, a message that
 * names the bad field and value, and never a stack or secret material.
 */
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  ValidationError: 400,
  UnsupportedMediaType: 415,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  AlreadyExists: 409,
  InProgress: 409,
  TooManyVersions: 422,
  IntegrityError: 422,
  Throttled: 503,
  Transient: 503,
  DeadlineExceeded: 504,
  InvalidConfiguration: 500,
  Internal: 500,
};

/** A JSON response. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } };
}

/** The response header (and error-body field) that ties an answer to its log lines and audit record. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Maps any thrown value to an HTTP response (unknown errors become an opaque 500).
 * @param error - what was thrown
 * @param requestId - the request's id, carried in the body and the `x-request-id` header
 */
export function errorResponse(error: unknown, requestId?: string): HttpResponseInit {
  const ids: Record<string, string> = requestId ? { [REQUEST_ID_HEADER]: requestId } : {};
  if (error instanceof KvGuardError) {
    const status = STATUS_BY_CODE[error.code];
    const body: Record<string, unknown> = { code: error.code, message: error.message };
    if (error.field) body.field = error.field;
    if (error.serviceCode) body.serviceCode = error.serviceCode;
    if (requestId) body.requestId = requestId;
    const headers: Record<string, string> = error.retryAfterSeconds
      ? { 'retry-after': String(error.retryAfterSeconds), ...ids }
      : ids;
    return jsonResponse(status, { error: body }, headers);
  }
  return jsonResponse(
    500,
    {
      error: {
        code: 'Internal',
        message: 'kvguard failed unexpectedly; see the logs',
        ...(requestId ? { requestId } : {}),
      },
    },
    ids,
  );
}

/**
 * Runs an HTTP handler's body under a new request id and answers whatever it throws with {@link errorResponse},
 * logging the failure as a warning when the caller is at fault (4xx) and as an error otherwise. Every answer,
 * success or not, carries the id in the `x-request-id` header; error bodies carry it too.
 * @param context - the invocation, whose log carries the line
 * @param what - what failed, for the log line (e.g. `status`)
 * @param work - the handler's body, given the request id
 */
export async function answeringErrors(
  context: InvocationContext,
  what: string,
  work: (requestId: string) => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  const requestId = randomUUID();
  let response: HttpResponseInit;
  try {
    response = await work(requestId);
  } catch (error) {
    response = errorResponse(error, requestId);
    const line = `${what} failed (request ${requestId}): ${describeError(error).reason}`;
    if ((response.status ?? 500) >= 500) context.error(line);
    else context.warn(line);
  }
  return { ...response, headers: { ...(response.headers as Record<string, string>), [REQUEST_ID_HEADER]: requestId } };
}

/** Turns a zod failure into a `ValidationError` naming the first bad field and why. */
export function validationError(error: z.ZodError, where: 'body' | 'query' | 'route'): KvGuardError {
  // zod reports unknown fields of a strict object at the object itself; name the first unknown field instead.
  const fieldOf = (issue: z.core.$ZodIssue) =>
    [...issue.path, ...(issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [])].join('.') || where;
  const field = fieldOf(error.issues[0]!);
  const detail = error.issues.map((i) => `${fieldOf(i)}: ${i.message}`).join('; ');
  return new KvGuardError('ValidationError', `Invalid ${where}: ${detail}`, { field });
}

/** Media types of a JSON body: `application/json` and any `application/…+json`, parameters (charset) allowed. */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/**
 * The one body parser of every HTTP route: the content type must be JSON (415 otherwise), the text strict JSON (no
 * duplicate keys, no `__proto__`: see {@link parseStrictJson}), the value what the schema says. An empty body reads
 * as `{}`. Throws `ValidationError` naming the field, or `UnsupportedMediaType`.
 */
export async function parseJsonBody<T>(request: HttpRequest, schema: z.ZodType<T>): Promise<T> {
  const text = await request.text();
  const contentType = request.headers.get('content-type') ?? '';
  if (text.trim() !== '' && !JSON_MEDIA_TYPE.test(contentType)) {
    throw new KvGuardError(
      'UnsupportedMediaType',
      `content-type ${JSON.stringify(contentType.slice(0, 100))} is not JSON; send application/json`,
      { field: 'content-type' },
    );
  }
  const body = text.trim() === '' ? {} : parseStrictJson(text, 'body');
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error, 'body');
  return parsed.data;
}

/**
 * The path of a list's next page: the query as given plus the token; the function key (`code`) is deliberately not
 * echoed.
 * @param path - the route, e.g. `/api/backups`
 * @param query - the parsed query parameters
 * @param continuationToken - the token of the next page
 */
export function nextPageLink(path: string, query: Record<string, unknown>, continuationToken: string): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...query, continuationToken }))
    if (value !== undefined) params.set(key, String(value));
  return `${path}?${params.toString()}`;
}

/** Parses the query string with a schema; throws `ValidationError` naming the parameter. */
export function parseQuery<T>(request: HttpRequest, schema: z.ZodType<T>): T {
  const query: Record<string, string> = {};
  request.query.forEach((value, key) => {
    if (key !== 'code') query[key] = value;
  });
  const parsed = schema.safeParse(query);
  if (!parsed.success) throw validationError(parsed.error, 'query');
  return parsed.data;
}

/** How a route authorises callers who already passed the function key. */
export interface AuthoriseOptions {
  /** Whether an Entra ID principal is required (in Azure: always). */
  requirePrincipal: boolean;
  /** Checks bearer tokens; without one, a required principal can never be proven and every call is refused. */
  principals?: PrincipalVerifier;
  /** The principal must hold one of these app roles (from the token's `roles` claim). */
  roles: string[];
}

/** A caller as a route knows it: the name to audit, and the app roles its verified token holds. */
export interface Caller {
  name: string;
  /** Undefined when no principal is required (function key only). */
  roles?: string[];
}

/**
 * Authenticates a caller who already passed the function key. With `requirePrincipal`, the request must carry an
 * Entra ID bearer token (`Authorization: Bearer …`) that kvguard verifies itself (signature, issuer, audience,
 * lifetime); its roles come only from the token's `roles` claim and its name is stored bounded and escaped. Nothing
 * else the caller sends is trusted: an `x-ms-client-principal` header is ignored, because only the platform's header
 * stripping (which kvguard cannot observe) would make it trustworthy. Fails closed: with no verifier configured, no
 * principal is accepted. Throws `Unauthorized`.
 */
export async function authenticate(request: HttpRequest, options: AuthoriseOptions): Promise<Caller> {
  if (!options.requirePrincipal) return { name: 'function-key' };
  if (!options.principals) {
    throw new KvGuardError(
      'Unauthorized',
      'kvguard cannot verify principals: KVGUARD_AUTH_TENANT_ID and KVGUARD_AUTH_AUDIENCE are not set',
      { field: 'authorization' },
    );
  }
  const token = /^Bearer[ ]+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  if (!token) {
    throw new KvGuardError('Unauthorized', 'An Entra ID bearer token is required (Authorization: Bearer <token>)', {
      field: 'authorization',
    });
  }
  const principal = await options.principals.verify(token);
  const name = boundedPrincipalName(principal.name);
  return { name: principal.objectId ? `${name} (${principal.objectId.slice(0, 64)})` : name, roles: principal.roles };
}

/** Throws `Forbidden` unless the caller holds one of the roles (always passes when no principal is required). */
export function requireRole(caller: Caller, roles: string[]): void {
  if (!caller.roles || roles.some((role) => caller.roles!.includes(role))) return;
  throw new KvGuardError(
    'Forbidden',
    `Principal ${JSON.stringify(caller.name)} holds none of the app roles ${roles.map((r) => JSON.stringify(r)).join(', ')}`,
  );
}

/** {@link authenticate} then {@link requireRole}; answers the name to audit. */
export async function authorise(request: HttpRequest, options: AuthoriseOptions): Promise<string> {
  const caller = await authenticate(request, options);
  requireRole(caller, options.roles);
  return caller.name;
}

/** How HTTP routes authorise callers: read routes take the read or restore role, changing routes the restore role. */
export function authorisation(
  services: Pick<Services, 'config' | 'principals'>,
  access: 'read' | 'restore',
): AuthoriseOptions {
  const { config, principals } = services;
  return {
    requirePrincipal: config.requirePrincipal,
    principals,
    roles: access === 'restore' ? [config.restoreRole] : [config.readRole, config.restoreRole],
  };
}
