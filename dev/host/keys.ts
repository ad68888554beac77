import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The host's keys: the function key (`authLevel: 'function'`) and the master key (admin API, and any function). */
export interface HostKeys {
  functionKey: string;
  masterKey: string;
}

/** A new random key, shaped like the Functions host's (URL-safe base64, 40 bytes of entropy). */
export function generateKey(): string {
  return randomBytes(40).toString('base64url');
}

/** The key a request presents: the `x-functions-key` header, else the `code` query parameter (as in Azure). */
export function presentedKey(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers['x-functions-key'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  return fromHeader || url.searchParams.get('code') || undefined;
}

/** True when `presented` equals one of `accepted` (compared in constant time). */
export function keyMatches(presented: string | undefined, accepted: readonly string[]): boolean {
  if (!presented) return false;
  const given = Buffer.from(presented);
  let matched = false;
  for (const key of accepted) {
    const expected = Buffer.from(key);
    if (expected.length === given.length && timingSafeEqual(expected, given)) matched = true;
  }
  return matched;
}
