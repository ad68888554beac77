import type { CriticalSelector, ObjectFilter, ObjectSummary, ObjectType, VaultTarget } from '../domain';

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
    case 'tag':
      return hasTag(object, selector.tag, selector.value);
    case 'names':
      return selector.patterns.some((pattern) => globMatcher(pattern).test(object.name));
  }
}

/** Tag names are matched case-insensitively (as Key Vault's portal shows them), values exactly. */
function hasTag(object: Pick<ObjectSummary, 'tags'>, tag: string, value: string): boolean {
  const entry = Object.entries(object.tags).find(([name]) => name.toLowerCase() === tag.toLowerCase());
  return entry !== undefined && entry[1] === value;
}

/** Whether an object matches one include/exclude filter of a policy. */
export function matchesFilter(object: ObjectSummary, filter: ObjectFilter): boolean {
  switch (filter.kind) {
    case 'name':
      return (
        (filter.type === undefined || filter.type === object.type) && globMatcher(filter.pattern).test(object.name)
      );
    case 'tag':
      return hasTag(object, filter.tag, filter.value);
    case 'contentType':
      return object.contentType !== undefined && globMatcher(filter.pattern).test(object.contentType);
  }
}

/**
 * Whether a vault's scheduled runs back an object up: a critical object of one of the vault's types that its
 * policy includes (no include filter: every object) and does not exclude.
 */
export function isSelectedByPolicy(object: ObjectSummary, target: VaultTarget): boolean {
  if (!target.types.includes(object.type) || !isCritical(object, target.critical)) return false;
  const policy = target.policy;
  if (!policy) return true;
  if (policy.include.length > 0 && !policy.include.some((filter) => matchesFilter(object, filter))) return false;
  return !policy.exclude.some((filter) => matchesFilter(object, filter));
}

/**
 * Whether a vault's policy already refuses an object by its type and name alone (an event names only those): an
 * exclude name filter matches it, or every include filter is a name filter and none matches. Tag and content-type
 * filters need the object's listing, so they never refuse here.
 */
export function isExcludedByName(object: { type: ObjectType; name: string }, target: VaultTarget): boolean {
  const policy = target.policy;
  if (!policy) return false;
  const probe: ObjectSummary = { ...object, tags: {}, enabled: true, managed: false };
  const byName = (filter: ObjectFilter) => filter.kind === 'name' && matchesFilter(probe, filter);
  if (policy.exclude.some(byName)) return true;
  const includeByNameOnly = policy.include.length > 0 && policy.include.every((f) => f.kind === 'name');
  return includeByNameOnly && !policy.include.some(byName);
}
