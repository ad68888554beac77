import { parse, type AnyNode } from '@humanwhocodes/momoa';
import { KvGuardError } from './errors';

/** Characters of an offending key quoted in a message; a longer key is cut. */
const QUOTED_KEY_LIMIT = 100;

/**
 * Parses JSON text that must mean exactly what it says. `JSON.parse` keeps the last of duplicate keys
 * (`"dryRun":true,…,"dryRun":false` reads as `false`) and turns a `__proto__` key into a property that object spreads
 * and schemas silently drop; both are refused here, naming the key and where it is, before anything reads the value.
 * Throws `ValidationError` with `field` set to the offending path (or `where` when the text is not JSON).
 * @param text - the JSON text
 * @param where - what the text is, for messages and as the field of a syntax error (e.g. `body`)
 */
export function parseStrictJson(text: string, where: string): unknown {
  let document;
  try {
    document = parse(text, { mode: 'json' });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new KvGuardError('ValidationError', `Invalid ${where}: not valid JSON (${detail})`, { field: where });
  }
  refuseAmbiguousKeys(document.body, [], where);
  return JSON.parse(text) as unknown;
}

function refuseAmbiguousKeys(node: AnyNode, path: string[], where: string): void {
  if (node.type === 'Array') {
    node.elements.forEach((element, index) => refuseAmbiguousKeys(element.value, [...path, String(index)], where));
    return;
  }
  if (node.type !== 'Object') return;
  const seen = new Set<string>();
  for (const member of node.members) {
    const key = member.name.type === 'String' ? member.name.value : member.name.name;
    const field = [...path, key].join('.');
    const quoted = JSON.stringify(key.slice(0, QUOTED_KEY_LIMIT));
    if (key === '__proto__') {
      throw new KvGuardError('ValidationError', `Invalid ${where}: the key ${quoted} is not allowed`, { field });
    }
    if (seen.has(key)) {
      throw new KvGuardError(
        'ValidationError',
        `Invalid ${where}: duplicate key ${quoted}${path.length > 0 ? ` in ${path.join('.')}` : ''} (each key may appear once)`,
        { field },
      );
    }
    seen.add(key);
    refuseAmbiguousKeys(member.value, [...path, key], where);
  }
}
