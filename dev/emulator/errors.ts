/**
 * Key Vault's error envelope and the answers the emulator gives. Messages follow what the real service sends (see
 * dev/emulator/SOURCES.md for where each one was found); `innererror` only appears where the service sends it.
 */

/** Which object family an error is about; Key Vault names its error codes and messages after it. */
export type ObjectKind = 'key' | 'secret' | 'certificate';

const kindTitle: Record<ObjectKind, string> = { key: 'Key', secret: 'Secret', certificate: 'Certificate' };

/** An error answered to the client in Key Vault's `{ error: { code, message, innererror } }` envelope. */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The JSON body Key Vault sends for this error. */
  body(): { error: { code: string; message: string; innererror?: { code: string } } } {
    const error: { code: string; message: string; innererror?: { code: string } } = {
      code: this.code,
      message: this.message,
    };
    if (this.innerCode) error.innererror = { code: this.innerCode };
    return { error };
  }
}

/** 404 for a live object (or version) that does not exist. */
export function notFound(kind: ObjectKind, name: string, version?: string): ServiceError {
  const title = kindTitle[kind];
  const what = version ? `${name}/${version}` : name;
  return new ServiceError(
    404,
    `${title}NotFound`,
    `A ${kind} with (name/id) ${what} was not found in this key vault. If you recently deleted this ${kind} you may be ` +
      `able to recover it using the correct recovery command. For help resolving this issue, please see ` +
      `https://go.microsoft.com/fwlink/?linkid=2125182`,
  );
}

/** 404 for a deleted object that does not exist (or is still being deleted). */
export function deletedNotFound(kind: ObjectKind, name: string): ServiceError {
  return new ServiceError(404, `${kindTitle[kind]}NotFound`, `Deleted ${kindTitle[kind]} not found: ${name}`);
}

/** 409 when a name is soft-deleted and so cannot be reused until recovered or purged. */
export function deletedButRecoverable(kind: ObjectKind, name: string): ServiceError {
  return new ServiceError(
    409,
    'Conflict',
    `${kindTitle[kind]} ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in ` +
      `this state, the ${kind} can only be recovered or purged.`,
    'ObjectIsDeletedButRecoverable',
  );
}

/** 409 for purge/recover while a delete is still finishing in the background. */
export function beingDeleted(kind: ObjectKind): ServiceError {
  return new ServiceError(409, 'Conflict', `${kindTitle[kind]} is currently being deleted.`, 'ObjectIsBeingDeleted');
}

/** 409 for create/restore while a delete or purge of the name is still finishing. */
export function beingDeletedCannotRecreate(kind: ObjectKind, name: string): ServiceError {
  return new ServiceError(
    409,
    'Conflict',
    `${kindTitle[kind]} ${name} is currently being deleted and cannot be re-created; retry later.`,
    'ObjectIsBeingDeleted',
  );
}

/** 409 while a recover is still finishing in the background. */
export function beingRecovered(kind: ObjectKind, name: string): ServiceError {
  return new ServiceError(
    409,
    'Conflict',
    `${kindTitle[kind]} ${name} is currently being recovered and cannot be re-created; retry later.`,
    'ObjectIsBeingRecovered',
  );
}

/** 409 when restoring a backup over a name that exists live. */
export function restoreOverExisting(kind: ObjectKind, name: string): ServiceError {
  return new ServiceError(
    409,
    'Conflict',
    `${kindTitle[kind]} ${name} already exists; restore is only possible to a name that is not in use.`,
  );
}

/** 400 with Key Vault's generic `BadParameter` code. */
export function badParameter(message: string): ServiceError {
  return new ServiceError(400, 'BadParameter', message);
}

/** 429 as the service sends it when a vault's request budget is spent. */
export function throttled(retryAfterSeconds?: number): ServiceError {
  return new ServiceError(
    429,
    'Throttled',
    'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached',
    undefined,
    retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) },
  );
}

/** 503 for injected faults. */
export function serviceUnavailable(): ServiceError {
  return new ServiceError(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry later.');
}

/** 401 challenge body (2025-07-01 wording); the header carries the authority and resource the SDK authenticates against. */
export function unauthorized(): ServiceError {
  return new ServiceError(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer, PoP, or MTLS_POP token.');
}

/** 405 for a method the path does not take, and for an empty object name (`PUT /secrets/`). */
export function methodNotAllowed(method: string): ServiceError {
  return new ServiceError(405, 'MethodNotAllowed', `HTTP ${method} not allowed`);
}

/**
 * 403 for a caller without permission (access-policy vaults answer `Forbidden` with inner code `AccessDenied`).
 * Injected with `faults.forbidden`, to test how kvguard reports a vault it may not read.
 */
export function accessDenied(vaultName: string): ServiceError {
  return new ServiceError(
    403,
    'Forbidden',
    `The user, group or application 'appid=00000000-0000-0000-0000-000000000000' does not have keys list permission on key vault '${vaultName};location=local'.`,
    'AccessDenied',
  );
}

/** 403 for reading a disabled secret's value (recorded: Forbidden / SecretDisabled, also on the deleted secret). */
export function secretDisabled(): ServiceError {
  return new ServiceError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
}

/** 403 for an operation the key's `key_ops` leave out (azure-sdk-for-net#11518, SDK troubleshooting guides). */
export function operationForbidden(operation: string): ServiceError {
  return new ServiceError(
    403,
    'Forbidden',
    `Operation ${operation} is not permitted on this key.`,
    'KeyOperationForbidden',
  );
}

/** 403 on a disabled key (azure-sdk-for-python#45342: `Operation X is not allowed on a disabled key`, KeyDisabled). */
export function keyDisabled(operation: string): ServiceError {
  return new ServiceError(403, 'Forbidden', `Operation ${operation} is not allowed on a disabled key.`, 'KeyDisabled');
}

/**
 * 403 for a key used outside `nbf`/`exp`. Not found in any recording: modelled on the secret answer "Operation get is not allowed on a expired secret."
 * (inner SecretExpired, Azure/AzureKeyVault#19). Status 403 is documented; message and inner code are our guess.
 */
export function keyOutsideValidity(operation: string, expired: boolean): ServiceError {
  return expired
    ? new ServiceError(403, 'Forbidden', `Operation ${operation} is not allowed on an expired key.`, 'KeyExpired')
    : new ServiceError(
        403,
        'Forbidden',
        `Operation ${operation} is not allowed on a key that is not yet valid.`,
        'KeyNotYetValid',
      );
}

/** 400 for an algorithm of the wrong key family; the service's answer is not in any recording we found. */
export function unsupportedAlgorithm(algorithm: string, kty: string): ServiceError {
  return badParameter(`The algorithm '${algorithm}' is not supported for a key of type '${kty}'.`);
}

/** Recorded (certificates, 2025-07-01): code "Malformed backup blob", message "Backup blob contains invalid or corrupt version." */
export function malformedBackup(): ServiceError {
  return new ServiceError(400, 'Malformed backup blob', 'Backup blob contains invalid or corrupt version.');
}

/** The message azure-cli#8767 reports for a blob from another subscription or geography; the code is not recorded. */
export function cannotDecryptBackup(): ServiceError {
  return badParameter('Cannot decrypt backup blob');
}

/** 404 for a certificate without a pending operation (message ours). */
export function pendingCertificateNotFound(name: string): ServiceError {
  return new ServiceError(404, 'CertificateNotFound', `Pending certificate not found: ${name}`);
}

/** 404 for a path no route knows (message ours). */
export function unknownPath(path: string): ServiceError {
  return new ServiceError(404, 'NotFound', `The requested path ${path} was not found.`);
}

/** 413 for a body over the emulator's limit (message ours). */
export function bodyTooLarge(maxBytes: number): ServiceError {
  return new ServiceError(413, 'RequestEntityTooLarge', `The request body exceeds ${maxBytes} bytes.`);
}
