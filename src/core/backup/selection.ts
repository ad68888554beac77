import type { CriticalSelector, ObjectSummary } from '../domain';

/** Converts a name glob (`*` any run, `?` one character) into a case-insensitive matcher, as Key Vault names are. */
function globMatcher(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

/**
 * Whether an object is backed up by scheduled runs: never the key and secret that back a certificate (the
 * certificate's own backup carries them, and Key Vault refuses to back them up separately), else per the selector.
 */
export function isCritical(object: ObjectSummary, selector: CriticalSelector): boolean {
  if (object.managed) return false;
  switch (selector.kind) {
    case 'all':
      return true;
    case 'tag': {
      const entry = Object.entries(object.tags).find(([tag]) => tag.toLowerCase() === selector.tag.toLowerCase());
      return entry !== undefined && entry[1] === selector.value;
    }
    case 'names':
      return selector.patterns.some((pattern) => globMatcher(pattern).test(object.name));
  }
}
