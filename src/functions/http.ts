import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { describeError, KvGuardError, type ErrorCode } from '../core/errors';

/**
 * The one place that turns kvguard's error kinds into HTTP answers. Bodies carry a stable code, a message that
 * names the bad field and value, and never a stack or secret material.
 */
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  ValidationError: 400,
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

/** Maps any thrown value to an HTTP response (unknown errors become an opaque 500). */
export function errorResponse(error: unknown): HttpResponseInit {
  if (error instanceof KvGuardError) {
    const status = STATUS_BY_CODE[error.code];
    const body: Record<string, unknown> = { code: error.code, message: error.message };
    if (error.field) body.field = error.field;
    if (error.serviceCode) body.serviceCode = error.serviceCode;
    const headers: Record<string, string> = error.retryAfterSeconds
      ? { 'retry-after': String(error.retryAfterSeconds) }
      : {};
    return jsonResponse(status, { error: body }, headers);
  }
  return jsonResponse(500, { error: { code: 'Internal', message: 'kvguard failed unexpectedly; see the logs' } });
}

/**
 * Runs an HTTP handler's body and answers whatever it throws with {@link errorResponse}, logging the failure as a
 * warning when the caller is at fault (4xx) and as an error otherwise.
 * @param context - the invocation, whose log carries the line
 * @param what - what failed, for the log line (e.g. `status`)
 * @param work - the handler's body
 */
export async function answeringErrors(
  context: InvocationContext,
  what: string,
  work: () => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  try {
    return await work();
  } catch (error) {
    const response = errorResponse(error);
    const line = `${what} failed: ${describeError(error).reason}`;
    if ((response.status ?? 500) >= 500) context.error(line);
    else context.warn(line);
    return response;
  }
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

/** Parses a JSON body with a schema; throws `ValidationError` naming the field. */
export async function parseJsonBody<T>(request: HttpRequest, schema: z.ZodType<T>): Promise<T> {
  let body: unknown;
  try {
    const text = await request.text();
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new KvGuardError('ValidationError', 'Invalid body: not valid JSON', { field: 'body' });
  }
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

/** The caller as App Service authentication (Easy Auth) describes it. */
export interface ClientPrincipal {
  name: string;
  roles: string[];
}

/** Reads `x-ms-client-principal` (base64 JSON set by App Service authentication); undefined when absent. */
export function clientPrincipal(request: HttpRequest): ClientPrincipal | undefined {
  const header = request.headers.get('x-ms-client-principal');
  if (!header) return undefined;
  try {
    const decoded = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as {
      claims?: { typ?: string; val?: string }[];
      name_typ?: string;
      role_typ?: string;
    };
    const claims = decoded.claims ?? [];
    const roleTypes = new Set([
      'roles',
      decoded.role_typ ?? 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
    ]);
    const nameTypes = [
      decoded.name_typ,
      'preferred_username',
      'name',
      'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
    ];
    const name = nameTypes.map((t) => claims.find((c) => c.typ === t)?.val).find(Boolean) ?? 'unknown';
    const roles = claims.filter((c) => c.typ && roleTypes.has(c.typ) && c.val).map((c) => c.val!);
    return { name, roles };
  } catch {
    throw new KvGuardError('Unauthorized', 'x-ms-client-principal is not valid base64 JSON', {
      field: 'x-ms-client-principal',
    });
  }
}

/**
 * Authorises a caller who already passed the function key. With `requirePrincipal`, an Entra ID principal holding
 * `role` is required too. Answers the name to audit.
 */
export function authorise(request: HttpRequest, options: { requirePrincipal: boolean; role: string }): string {
  const principal = clientPrincipal(request);
  if (!options.requirePrincipal) return principal?.name ?? 'function-key';
  if (!principal)
    throw new KvGuardError('Unauthorized', 'An Entra ID principal is required (App Service authentication)');
  if (!principal.roles.includes(options.role)) {
    throw new KvGuardError(
      'Forbidden',
      `Principal ${JSON.stringify(principal.name)} lacks the app role ${JSON.stringify(options.role)}`,
    );
  }
  return principal.name;
}
