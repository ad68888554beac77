/** Characters of a principal's name kept in audit records, log lines and messages. */
export const MAX_PRINCIPAL_NAME = 128;
/** Characters of an audited principal: its name plus its object id. */
export const MAX_AUDITED_PRINCIPAL = 200;

/**
 * A principal name fit to store: control, format and line-separator characters escaped as `\uXXXX` (so a name can
 * never start a new log line or audit field), then cut to `limit` characters with `…`. Applying it twice changes
 * nothing more.
 * @param name - the name as the token or caller gave it
 * @param limit - characters kept (default {@link MAX_PRINCIPAL_NAME})
 */
export function boundedPrincipalName(name: string, limit = MAX_PRINCIPAL_NAME): string {
  const escaped = Array.from(name, (c) =>
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(c) ? `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}` : c,
  );
  const chars = Array.from(escaped.join(''));
  return chars.length > limit ? `${chars.slice(0, limit - 1).join('')}…` : chars.join('');
}
