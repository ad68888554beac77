/** The one way adapters quote a failed Azure call in an error message, so every adapter keeps the same bound on it. */

/**
 * `HTTP <status> <service code> <message>`, each part only when known; of the SDK's message only the first line,
 * at most 300 characters (later lines repeat the request and response, which must not end up in logs).
 * @param status - the HTTP status, when there was an answer
 * @param serviceCode - the service's error code (`x-ms-error-code`, Key Vault's `innererror.code` …)
 * @param message - the SDK error's message
 */
export function describeServiceFailure(
  status: number | undefined,
  serviceCode: string | undefined,
  message: string | undefined,
): string {
  const parts = [
    status === undefined ? undefined : `HTTP ${status}`,
    serviceCode,
    message?.split('\n')[0]?.slice(0, 300),
  ];
  return parts.filter(Boolean).join(' ');
}
