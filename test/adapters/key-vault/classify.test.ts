import { createHttpHeaders, createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import {
  classifyVaultError,
  deepestInnerCode,
  INNER_ERROR_HEADER,
  isTooManyVersions,
  parseRetryAfter,
} from '../../../src/adapters/key-vault/classify';
import { KvGuardError } from '../../../src/core/errors';

const context = { operation: 'backup key db-key', vault: 'demo' };
const request = createPipelineRequest({ url: 'https://demo.vault.azure.net/keys/db-key/backup' });

/** A RestError shaped like the Key Vault SDKs build it (code from the body, headers kept, body dropped). */
function restError(statusCode: number, code: string, message: string, headers: Record<string, string> = {}): RestError {
  return new RestError(message, {
    statusCode,
    code,
    request,
    response: { status: statusCode, headers: createHttpHeaders(headers), request },
  });
}

describe('classifyVaultError', () => {
  it('keeps 429 as Throttled with the Retry-After seconds, or none when the service sent none', () => {
    const throttled =
      'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached';
    const withHint = classifyVaultError(restError(429, 'Throttled', throttled, { 'retry-after': '7' }), context);
    expect(withHint).toMatchObject({
      code: 'Throttled',
      retryAfterSeconds: 7,
      statusCode: 429,
      serviceCode: 'Throttled',
    });
    const without = classifyVaultError(restError(429, 'Throttled', throttled), context);
    expect(without.code).toBe('Throttled');
    expect(without.retryAfterSeconds).toBeUndefined();
  });

  it.each([500, 502, 503, 504, 408])('treats HTTP %i as Transient', (status) => {
    expect(classifyVaultError(restError(status, 'ServiceUnavailable', 'retry later'), context).code).toBe('Transient');
  });

  it.each(['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'REQUEST_SEND_ERROR'])(
    'treats a %s without status as Transient',
    (code) => {
      expect(classifyVaultError(new RestError('socket hang up', { code, request }), context).code).toBe('Transient');
    },
  );

  it('treats an aborted attempt (per-request timeout) as Transient and a missing host as NotFound', () => {
    const abort = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    expect(classifyVaultError(abort, context).code).toBe('Transient');
    expect(
      classifyVaultError(
        new RestError('getaddrinfo ENOTFOUND nope.vault.azure.net', { code: 'ENOTFOUND', request }),
        context,
      ).code,
    ).toBe('NotFound');
  });

  it('tells an in-progress 409 (inner code kept in a header by the pipeline policy) from a name conflict', () => {
    const beingDeleted = restError(409, 'Conflict', 'Key is currently being deleted.', {
      [INNER_ERROR_HEADER]: 'ObjectIsBeingDeleted',
    });
    expect(classifyVaultError(beingDeleted, context)).toMatchObject({
      code: 'InProgress',
      serviceCode: 'ObjectIsBeingDeleted',
    });
    const recovering = restError(409, 'Conflict', 'Key k is currently being recovered', {
      [INNER_ERROR_HEADER]: 'ObjectIsBeingRecovered',
    });
    expect(classifyVaultError(recovering, context).code).toBe('InProgress');
    const softDeleted = restError(409, 'Conflict', 'Key k is currently in a deleted but recoverable state', {
      [INNER_ERROR_HEADER]: 'ObjectIsDeletedButRecoverable',
    });
    expect(classifyVaultError(softDeleted, context)).toMatchObject({
      code: 'Conflict',
      serviceCode: 'ObjectIsDeletedButRecoverable',
    });
    expect(classifyVaultError(restError(409, 'Conflict', 'Key k already exists'), context).code).toBe('Conflict');
    // Without the header (an SDK path that skips the policy) the message still says it.
    expect(
      classifyVaultError(restError(409, 'Conflict', 'Certificate is currently being deleted.'), context).code,
    ).toBe('InProgress');
  });

  it.each([
    [404, 'KeyNotFound', 'NotFound'],
    [403, 'Forbidden', 'Forbidden'],
    [401, 'Unauthorized', 'Unauthorized'],
    [400, 'BadParameter', 'BadRequest'],
  ] as const)('maps HTTP %i %s to %s and keeps the service code', (status, serviceCode, expected) => {
    const error = classifyVaultError(restError(status, serviceCode, 'no'), context);
    expect(error).toMatchObject({ code: expected, serviceCode, statusCode: status });
    expect(error.message).toContain('backup key db-key in vault demo');
  });

  it('recognises the refusal to back up more than 500 versions', () => {
    const refusal = restError(400, 'BadParameter', 'Backup of an object with more than 500 versions is not supported.');
    expect(classifyVaultError(refusal, context).code).toBe('TooManyVersions');
    expect(isTooManyVersions('Property value is required.')).toBe(false);
  });

  it('passes a KvGuardError through unchanged', () => {
    const original = new KvGuardError('Forbidden', 'no');
    expect(classifyVaultError(original, context)).toBe(original);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2025-01-01T00:00:00Z');
  it('reads seconds, HTTP dates and the millisecond variants', () => {
    expect(parseRetryAfter(createHttpHeaders({ 'retry-after': '3' }), now)).toBe(3);
    expect(parseRetryAfter(createHttpHeaders({ 'retry-after': 'Wed, 01 Jan 2025 00:00:05 GMT' }), now)).toBe(5);
    expect(parseRetryAfter(createHttpHeaders({ 'retry-after-ms': '1500' }), now)).toBe(1.5);
    expect(parseRetryAfter(createHttpHeaders({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(parseRetryAfter(createHttpHeaders({}), now)).toBeUndefined();
  });
});

describe('deepestInnerCode', () => {
  it('reads the innermost innererror code of a Key Vault error body', () => {
    const body = JSON.stringify({
      error: { code: 'Forbidden', innererror: { code: 'ForbiddenByPolicy', innererror: { code: 'AccessDenied' } } },
    });
    expect(deepestInnerCode(body)).toBe('AccessDenied');
    expect(deepestInnerCode('{"error":{"code":"Conflict"}}')).toBeUndefined();
    expect(deepestInnerCode('<html>')).toBeUndefined();
  });
});
