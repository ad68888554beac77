/**
 * Storage (Blob, Queue) failures as {@link KvGuardError}s. The storage SDKs retry 5xx and resets themselves
 * (StorageRetryPolicy); what reaches here is final, so it is classified once and kept with its `x-ms-error-code`.
 */
import { KvGuardError, type ErrorCode } from '../core/errors';
import { describeServiceFailure } from './service-failure';

/** The fields of a storage `RestError` that matter. */
interface StorageErrorLike {
  message?: string;
  code?: string;
  statusCode?: number;
  details?: { errorCode?: string };
}

/**
 * Classifies a storage failure.
 * @param error - what the storage SDK threw
 * @param operation - what was attempted, for the message (`write backups/demo/key/db/…`)
 */
export function storageError(error: unknown, operation: string): KvGuardError {
  if (error instanceof KvGuardError) return error;
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as StorageErrorLike;
  const serviceCode = e.details?.errorCode ?? e.code;
  const status = e.statusCode;
  const message = `${operation} failed: ${describeServiceFailure(status, serviceCode, e.message)}`;
  return new KvGuardError(storageErrorCode(status, serviceCode), message, {
    serviceCode,
    statusCode: status,
    cause: error,
  });
}

/** The error status of a failed storage call, when it has one. */
export function storageStatus(error: unknown): number | undefined {
  const status = (error as StorageErrorLike | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The storage error code (`x-ms-error-code`) of a failed call, when it has one. */
export function storageCode(error: unknown): string | undefined {
  const e = error as StorageErrorLike | undefined;
  return e?.details?.errorCode ?? e?.code;
}

function storageErrorCode(status: number | undefined, serviceCode: string | undefined): ErrorCode {
  if (status === undefined)
    return serviceCode && /^E[A-Z]+$|REQUEST_SEND_ERROR/.test(serviceCode) ? 'Transient' : 'Internal';
  if (status === 429 || serviceCode === 'ServerBusy') return 'Throttled';
  if (status >= 500 || status === 408) return 'Transient';
  if (status === 404) return 'NotFound';
  if (status === 403) return 'Forbidden';
  if (status === 401) return 'Unauthorized';
  if (status === 409 || status === 412) return 'Conflict';
  return 'BadRequest';
}
