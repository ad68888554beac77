import { objectKey, type ObjectType } from '../domain';
import type { PointObject, RestorePoint } from './restore-point';
import type { VersionInventory } from './inventory';

/** One attribute or tag that differs between the two sides. */
export interface AttributeChange {
  /** The version it belongs to; absent for the object's own (newest version's) attributes. */
  version?: string;
  /** `enabled`, `expiresOn`, `notBefore`, `contentType`, `tag:<name>`, or `versions` when only fingerprints are known. */
  field: string;
  from?: string;
  to?: string;
}

/** How one object present on both sides differs. */
export interface ObjectChange {
  type: ObjectType;
  name: string;
  versionsAdded: string[];
  versionsRemoved: string[];
  changes: AttributeChange[];
}

/** What changed from one restore point to another (or to the live vault). */
export interface RestorePointDiff {
  vault: string;
  from: { asOf: string; basis: RestorePoint['basis']; runId?: string };
  to: { asOf: string; basis: RestorePoint['basis']; runId?: string };
  /** Objects on the later side only. */
  added: { type: ObjectType; name: string; versions: number }[];
  /** Objects on the earlier side only: deleted from the vault since (or no longer selected by its policy). */
  deleted: { type: ObjectType; name: string; versions: number }[];
  /** Objects on both sides whose versions, attributes or tags differ. */
  changed: ObjectChange[];
  unchanged: number;
}

function versionCount(o: PointObject): number {
  return o.versions?.length ?? o.backup?.versionCount ?? 0;
}

const text = (v: boolean | string | undefined) => (v === undefined ? undefined : String(v));

/** Attribute and tag differences between two descriptions of one version (or of the object itself). */
function attributeChanges(
  from: Pick<VersionInventory, 'enabled' | 'tags' | 'contentType'> & Partial<VersionInventory>,
  to: Pick<VersionInventory, 'enabled' | 'tags' | 'contentType'> & Partial<VersionInventory>,
  version?: string,
): AttributeChange[] {
  const changes: AttributeChange[] = [];
  const at = version === undefined ? {} : { version };
  for (const field of ['enabled', 'expiresOn', 'notBefore', 'contentType'] as const) {
    const a = text(from[field]);
    const b = text(to[field]);
    if (a !== b)
      changes.push({ ...at, field, ...(a !== undefined ? { from: a } : {}), ...(b !== undefined ? { to: b } : {}) });
  }
  const tagNames = new Set([...Object.keys(from.tags ?? {}), ...Object.keys(to.tags ?? {})]);
  for (const tag of [...tagNames].sort()) {
    const a = from.tags?.[tag];
    const b = to.tags?.[tag];
    if (a !== b)
      changes.push({
        ...at,
        field: `tag:${tag}`,
        ...(a !== undefined ? { from: a } : {}),
        ...(b !== undefined ? { to: b } : {}),
      });
  }
  return changes;
}

/** How an object present on both sides differs; undefined when it does not. */
function compareObject(from: PointObject, to: PointObject): ObjectChange | undefined {
  const change: ObjectChange = { type: to.type, name: to.name, versionsAdded: [], versionsRemoved: [], changes: [] };
  if (from.versions && to.versions) {
    const before = new Map(from.versions.map((v) => [v.version, v]));
    const after = new Map(to.versions.map((v) => [v.version, v]));
    change.versionsAdded = to.versions.filter((v) => !before.has(v.version)).map((v) => v.version);
    change.versionsRemoved = from.versions.filter((v) => !after.has(v.version)).map((v) => v.version);
    for (const [id, version] of after) {
      const earlier = before.get(id);
      if (earlier) change.changes.push(...attributeChanges(earlier, version, id));
    }
  } else if (from.fingerprint !== undefined && to.fingerprint !== undefined && from.fingerprint !== to.fingerprint) {
    // A backup from before inventories were recorded: only its fingerprint tells the versions changed.
    change.changes.push({ field: 'versions', from: from.fingerprint, to: to.fingerprint });
  } else if (
    from.backup &&
    to.backup &&
    from.fingerprint === undefined &&
    from.backup.blobName !== to.backup.blobName
  ) {
    change.changes.push({ field: 'versions', from: from.backup.blobName, to: to.backup.blobName });
  }
  const changed = change.versionsAdded.length + change.versionsRemoved.length + change.changes.length > 0;
  return changed ? change : undefined;
}

/**
 * Compares two restore points of one vault (the earlier first): objects added and deleted, and per object present
 * on both sides the versions added and removed and the attributes and tags changed. Never compares values.
 * @param from - the earlier restore point
 * @param to - the later restore point, or the live vault
 */
export function diffRestorePoints(from: RestorePoint, to: RestorePoint): RestorePointDiff {
  const before = new Map(from.objects.map((o) => [objectKey(o), o]));
  const after = new Map(to.objects.map((o) => [objectKey(o), o]));
  const side = (p: RestorePoint) => ({ asOf: p.asOf, basis: p.basis, ...(p.runId ? { runId: p.runId } : {}) });
  const diff: RestorePointDiff = {
    vault: to.vault,
    from: side(from),
    to: side(to),
    added: [],
    deleted: [],
    changed: [],
    unchanged: 0,
  };
  for (const [key, object] of after) {
    const earlier = before.get(key);
    if (!earlier) {
      diff.added.push({ type: object.type, name: object.name, versions: versionCount(object) });
      continue;
    }
    const change = compareObject(earlier, object);
    if (change) diff.changed.push(change);
    else diff.unchanged += 1;
  }
  for (const [key, object] of before) {
    if (!after.has(key)) diff.deleted.push({ type: object.type, name: object.name, versions: versionCount(object) });
  }
  return diff;
}
