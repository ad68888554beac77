/**
 * The closed set of failure kinds kvguard reasons about. Adapters translate every service error into one of these,
 * keeping the service's own code in `serviceCode`; the edges (HTTP, CLI) translate them once into responses.
 */
export type ErrorCode =
  | 'Throttled'
  | 'Transient'
  | 'Conflict'
  | 'InProgress'
  | 'NotFound'
  | 'Forbidden'
  | 'Unauthorized'
  | 'BadRequest'
  | 'TooManyVersions'
  | 'AlreadyExists'
  | 'IntegrityError'
  | 'DeadlineExceeded'
  | 'InvalidConfiguration'
  | 'ValidationError'
  | 'UnsupportedMediaType'
  | 'Internal';

/** Options for a {@link KvGuardError}. */
export interface KvGuardErrorOptions {
  /** The service's own error code (e.g. Key Vault's `ObjectIsBeingDeleted`), when there is one. */
  serviceCode?: string;
  /** HTTP status the service answered, when there is one. */
  statusCode?: number;
  /** Seconds the service asked us to wait, when it said. */
  retryAfterSeconds?: number;
  /** The field a validation error is about. */
  field?: string;
  cause?: unknown;
}

/** An error with a stable code from {@link ErrorCode}; its message never holds secret material. */
export class KvGuardError extends Error {
  override readonly name = 'KvGuardError';
  readonly serviceCode?: string;
  readonly statusCode?: number;
  readonly retryAfterSeconds?: number;
  readonly field?: string;

  /**
   * @param code - the failure kind
   * @param message - what went wrong, quoting the bad input (never a secret value)
   * @param options - service code, status, retry hint, field, cause
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: KvGuardErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.serviceCode = options.serviceCode;
    this.statusCode = options.statusCode;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.field = options.field;
  }
}

/** True when `error` is a {@link KvGuardError}, optionally of one of the given codes. */
export function isKvGuardError(error: unknown, ...codes: ErrorCode[]): error is KvGuardError {
  return error instanceof KvGuardError && (codes.length === 0 || codes.includes(error.code));
}

/** The failure kinds worth another attempt after a pause. */
export const RETRYABLE_CODES: readonly ErrorCode[] = ['Throttled', 'Transient', 'InProgress'];

/** A message safe to show for any thrown value (no stack, no secret material from unknown errors). */
export function describeError(error: unknown): { code: string; reason: string } {
  if (error instanceof KvGuardError) return { code: error.code, reason: error.message };
  if (error instanceof Error) return { code: 'Internal', reason: error.message };
  return { code: 'Internal', reason: String(error) };
}
