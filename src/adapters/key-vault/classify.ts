/**
 * Turns whatever a Key Vault SDK call threw into a {@link KvGuardError} of the core's closed set.
 *
 * What the service sends (Azure SDK for JS recordings, sdk/keyvault/*\/recordings; Key Vault REST error docs):
 * - 429 `{"error":{"code":"Throttled","message":"Request was not processed because too many requests were received.
 *   Reason: VaultRequestTypeLimitReached"}}`, often without `Retry-After`.
 * - 409 `{"error":{"code":"Conflict","message":"Key is currently being deleted.","innererror":{"code":"ObjectIsBeingDeleted"}}}`
 *   while a delete finishes (also `ObjectIsBeingRecovered`, `ObjectIsBeingPurged`); a soft-deleted name answers 409
 *   with inner code `ObjectIsDeletedButRecoverable`; restoring over a live name answers a plain 409 `Conflict`.
 * - 404 `KeyNotFound` / `SecretNotFound` / `CertificateNotFound`; 403 `Forbidden` (inner `ForbiddenByPolicy`,
 *   `ForbiddenByFirewall`, `AccessDenied`); 401 `Unauthorized`; 400 `BadParameter`.
 * - A missing vault host fails DNS (`ENOTFOUND`); resets and timeouts surface as `RestError`s whose `code` is the
 *   Node error code and that have no status.
 * The generated clients drop the body's `innererror` when they build the `RestError`, so {@link innerErrorPolicy}
 * copies it into a response header the error keeps.
 */
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { KvGuardError, type ErrorCode } from '../../core/errors';
import { describeServiceFailure } from '../service-failure';

/** Response header in which {@link innerErrorPolicy} keeps Key Vault's `innererror.code`. */
export const INNER_ERROR_HEADER = 'x-kvguard-inner-error-code';

/** Node and undici error codes of a connection that failed or broke: worth another attempt. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ESOCKETTIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'REQUEST_SEND_ERROR',
]);

/** Inner codes of a 409 that means "an earlier operation on this name is still finishing". */
const IN_PROGRESS_CODES = new Set(['ObjectIsBeingDeleted', 'ObjectIsBeingRecovered', 'ObjectIsBeingPurged']);

/** What the classifier needs to know about the call, for a message that names the object. */
export interface CallContext {
  /** e.g. `backup key db-key` */
  operation: string;
  vault: string;
}

/** The fields of an SDK `RestError` the classifier reads (duck-typed: several copies of the class exist). */
interface RestErrorLike {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  response?: { headers?: { get(name: string): string | undefined }; bodyAsText?: string | null };
  cause?: unknown;
}

/**
 * Classifies any thrown value. A {@link KvGuardError} passes through unchanged.
 * @param error - what the SDK call threw
 * @param context - the operation and vault, for the message
 * @param now - the current instant, to read an HTTP-date `Retry-After`
 */
export function classifyVaultError(error: unknown, context: CallContext, now: Date = new Date()): KvGuardError {
  if (error instanceof KvGuardError) return error;
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as RestErrorLike;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const inner = innerCode(e);
  const serviceCode = inner ?? e.code;
  const retryAfterSeconds = retryAfterFrom(e, now);
  const message = `${context.operation} in vault ${context.vault} failed: ${describeServiceFailure(status, serviceCode, e.message)}`;
  const make = (code: ErrorCode) =>
    new KvGuardError(code, message, { serviceCode, statusCode: status, retryAfterSeconds, cause: error });

  if (status === undefined) return make(classifyWithoutStatus(e));
  return make(classifyStatus(status, serviceCode, e.message ?? ''));
}

function classifyWithoutStatus(e: RestErrorLike): ErrorCode {
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'Transient';
  if (e.code === 'ENOTFOUND') return 'NotFound';
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return 'Transient';
  if (/socket hang up|network|timed? ?out|ECONNRESET/i.test(e.message ?? '')) return 'Transient';
  const causeCode = (e.cause as { code?: string } | undefined)?.code;
  if (causeCode !== undefined && NETWORK_CODES.has(causeCode)) return 'Transient';
  return 'Internal';
}

function classifyStatus(status: number, serviceCode: string | undefined, message: string): ErrorCode {
  if (status === 429) return 'Throttled';
  if (status === 408 || status === 500 || status === 502 || status === 503 || status === 504) return 'Transient';
  if (status === 409) return conflictKind(serviceCode, message);
  if (status === 404) return 'NotFound';
  if (status === 403) return 'Forbidden';
  if (status === 401) return 'Unauthorized';
  if (status === 400 && isTooManyVersions(message)) return 'TooManyVersions';
  if (status >= 400 && status < 500) return 'BadRequest';
  if (status >= 500) return 'Transient';
  return 'Internal';
}

/** A 409 either says "still finishing, try again" or "the name is taken". */
function conflictKind(serviceCode: string | undefined, message: string): ErrorCode {
  if (serviceCode !== undefined && IN_PROGRESS_CODES.has(serviceCode)) return 'InProgress';
  if (/currently being (deleted|recovered|purged)|still being (deleted|recovered|purged)/i.test(message))
    return 'InProgress';
  return 'Conflict';
}

/**
 * Key Vault refuses to back up objects with more than 500 versions with a 400; the wording is not documented, so
 * match on what any such message must mention.
 */
export function isTooManyVersions(message: string): boolean {
  return /version/i.test(message) && /(500|too many|exceed|maximum|limit)/i.test(message);
}

function innerCode(e: RestErrorLike): string | undefined {
  const fromHeader = e.response?.headers?.get(INNER_ERROR_HEADER);
  if (fromHeader) return fromHeader;
  const body = e.response?.bodyAsText;
  return body ? deepestInnerCode(body) : undefined;
}

/** The innermost `innererror.code` of a Key Vault error body, if the text is one. */
export function deepestInnerCode(bodyText: string): string | undefined {
  try {
    let node = (JSON.parse(bodyText) as { error?: unknown }).error as
      { innererror?: unknown; code?: unknown } | undefined;
    let found: string | undefined;
    while (node && typeof node === 'object' && node.innererror && typeof node.innererror === 'object') {
      node = node.innererror;
      if (typeof node.code === 'string') found = node.code;
    }
    return found;
  } catch {
    return undefined;
  }
}

/**
 * Seconds the service asked to wait: `Retry-After` (seconds or HTTP date), or the millisecond variants some Azure
 * services send. Undefined when absent or unreadable.
 */
export function parseRetryAfter(
  headers: { get(name: string): string | undefined } | undefined,
  now: Date,
): number | undefined {
  if (!headers) return undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = Number(headers.get(name));
    if (headers.get(name) !== undefined && Number.isFinite(ms) && ms >= 0) return ms / 1000;
  }
  const raw = headers.get('retry-after')?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now.getTime()) / 1000);
}

function retryAfterFrom(e: RestErrorLike, now: Date): number | undefined {
  return parseRetryAfter(e.response?.headers, now);
}

/**
 * A pipeline policy that keeps Key Vault's `innererror.code` of an error response in a header, because the
 * generated clients rebuild the response for their `RestError` without the body.
 */
export const innerErrorPolicy: PipelinePolicy = {
  name: 'kvguardInnerErrorPolicy',
  async sendRequest(request, next) {
    const response = await next(request);
    if (response.status >= 400 && response.bodyAsText) {
      const code = deepestInnerCode(response.bodyAsText);
      if (code) response.headers.set(INNER_ERROR_HEADER, code);
    }
    return response;
  },
};
