import { KvGuardError, type ErrorCode } from '../../core/errors';

/**
 * The error an alert sink throws: the HTTP status kept, the code from the core's set, and a message that never
 * quotes the endpoint (webhook URLs carry their credential in the path or query).
 * @param sink - the sink's name
 * @param status - the HTTP status answered, when there was an answer
 * @param detail - what went wrong, without secrets
 */
export function sinkError(sink: string, status: number | undefined, detail: string, cause?: unknown): KvGuardError {
  return new KvGuardError(codeFor(status), `alert sink ${sink} failed: ${detail}`, { statusCode: status, cause });
}

function codeFor(status: number | undefined): ErrorCode {
  if (status === undefined || status === 408 || status >= 500) return 'Transient';
  if (status === 429) return 'Throttled';
  if (status === 401) return 'Unauthorized';
  if (status === 403) return 'Forbidden';
  if (status === 404) return 'NotFound';
  return 'BadRequest';
}
