/** The shapes REST handlers work with, and the request-parsing rules all object families share. */
import { badParameter } from './errors';
import type { Vault } from './vault';
import type { StoredVersion, VersionAttributes } from './vault-store';

/** A parsed request as the handlers see it. */
export interface ApiRequest {
  method: string;
  /** Path segments after the host, decoded, without empty trailing segments. */
  segments: string[];
  query: URLSearchParams;
  /** Parsed JSON body, or undefined when there was none. */
  body: unknown;
  apiVersion: string;
  vault: Vault;
}

/** What a handler answers. */
export interface ApiResponse {
  status: number;
  body?: unknown;
}

/** A handler bound to a method and a path pattern (`:param` segments are captured). */
export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  pattern: string;
  handle(request: ApiRequest, params: Record<string, string>): ApiResponse | Promise<ApiResponse>;
}

/** Key Vault's object-name rule: 1-127 characters of letters, digits and dashes. */
export const OBJECT_NAME = /^[0-9a-zA-Z-]{1,127}$/;

/** Key Vault's page size limit for `maxresults`. */
export const MAX_PAGE_SIZE = 25;

/** 200 with a body. */
export function ok(body: unknown): ApiResponse {
  return { status: 200, body };
}

/** The JSON body as an object, or the service's 400. */
export function objectBody(request: ApiRequest): Record<string, unknown> {
  const { body } = request;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badParameter('The request body is missing or is not a JSON object.');
  }
  return body as Record<string, unknown>;
}

function optionalEpoch(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw badParameter(`Invalid value for attributes.${field}: ${JSON.stringify(value)}. Expected epoch seconds.`);
  }
  return Math.floor(value);
}

/** Attributes from a create/set body, stamped with `now` (epoch seconds). */
export function newAttributes(body: Record<string, unknown>, now: number): VersionAttributes {
  const raw = (body['attributes'] ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badParameter('Invalid value for attributes.');
  const enabled = raw['enabled'];
  if (enabled !== undefined && enabled !== null && typeof enabled !== 'boolean') {
    throw badParameter(`Invalid value for attributes.enabled: ${JSON.stringify(enabled)}.`);
  }
  const nbf = optionalEpoch(raw['nbf'], 'nbf');
  const exp = optionalEpoch(raw['exp'], 'exp');
  return {
    enabled: enabled ?? true,
    ...(nbf !== undefined ? { nbf } : {}),
    ...(exp !== undefined ? { exp } : {}),
    created: now,
    updated: now,
  };
}

/**
 * How a create/set/import body becomes a new version (for {@link ObjectCollection.addVersion}): attributes stamped
 * with the creation time, the body's tags, and the managed flag of a certificate's key or secret. Tags are checked now.
 */
export function versionFromBody<P>(
  body: Record<string, unknown>,
  payload: P,
  managed = false,
): (versionId: string, now: number) => Omit<StoredVersion<P>, 'version'> {
  const tags = parseTags(body);
  return (_versionId, now) => ({
    attributes: newAttributes(body, now),
    ...(tags ? { tags } : {}),
    ...(managed ? { managed: true } : {}),
    payload,
  });
}

/** Applies an update body's attributes in place (only the fields present). */
export function updateAttributes(attributes: VersionAttributes, body: Record<string, unknown>, now: number): void {
  const raw = body['attributes'];
  if (raw === undefined || raw === null) {
    attributes.updated = now;
    return;
  }
  const parsed = newAttributes({ attributes: raw }, now);
  const given = raw as Record<string, unknown>;
  if ('enabled' in given && given['enabled'] !== null) attributes.enabled = parsed.enabled;
  if ('nbf' in given) setOptional(attributes, 'nbf', parsed.nbf);
  if ('exp' in given) setOptional(attributes, 'exp', parsed.exp);
  attributes.updated = now;
}

function setOptional(attributes: VersionAttributes, field: 'nbf' | 'exp', value: number | undefined): void {
  if (value === undefined) delete attributes[field];
  else attributes[field] = value;
}

/** Tags from a body: string values only, as Key Vault requires. */
export function parseTags(body: Record<string, unknown>): Record<string, string> | undefined {
  const raw = body['tags'];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badParameter('Invalid value for tags: expected an object.');
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw badParameter(`Invalid value for tag '${key}': expected a string.`);
  }
  return { ...(raw as Record<string, string>) };
}

/** One page of `items` with Key Vault's `nextLink` (`$skiptoken` + `maxresults`), as the SDK pagers follow it. */
export function page<T>(request: ApiRequest, items: T[], render: (item: T) => unknown): ApiResponse {
  const size = pageSize(request.query.get('maxresults'));
  const offset = skipOffset(request.query.get('$skiptoken'));
  const slice = items.slice(offset, offset + size);
  const next = offset + size < items.length ? offset + size : undefined;
  let nextLink: string | null = null;
  if (next !== undefined) {
    const path = request.segments.map(encodeURIComponent).join('/');
    const token = Buffer.from(JSON.stringify({ offset: next })).toString('base64url');
    nextLink =
      `${request.vault.base}/${path}?api-version=${encodeURIComponent(request.apiVersion)}` +
      `&$skiptoken=${token}&maxresults=${size}`;
  }
  return ok({ value: slice.map(render), nextLink });
}

function pageSize(raw: string | null): number {
  if (raw === null || raw === '') return MAX_PAGE_SIZE;
  const size = Number(raw);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw badParameter(`Invalid maxresults value: ${raw}. The value must be between 1 and ${MAX_PAGE_SIZE}.`);
  }
  return size;
}

function skipOffset(raw: string | null): number {
  if (!raw) return 0;
  try {
    const offset = (JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { offset?: unknown }).offset;
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through to the service's answer for a bad token
  }
  throw badParameter(`Invalid $skiptoken value: ${raw}.`);
}
