import { z } from 'zod';
import { schemaOf } from '../schema-of';
import { objectTypeSchema, type ObjectType, type ObjectVersion } from '../domain';
import { describeError } from '../errors';
import type { Logger } from '../ports';
import { versionsFingerprint } from '../backup/fingerprint';

/** One version as the catalog records it: attributes and tags, never a value. */
export interface VersionInventory {
  version: string;
  enabled: boolean;
  createdOn?: string;
  updatedOn?: string;
  expiresOn?: string;
  notBefore?: string;
  tags: Record<string, string>;
  contentType?: string;
}

/** What can be known about an object without reading values: recorded beside each backup it was stored with. */
export interface ObjectInventory {
  type: ObjectType;
  name: string;
  /** The same fingerprint the backup's catalog entry carries (versions' ids, updated times, enabled flags). */
  fingerprint: string;
  /** The object's current attributes: those of its newest version. */
  enabled: boolean;
  tags: Record<string, string>;
  contentType?: string;
  /** Oldest first. */
  versions: VersionInventory[];
}

const versionInventorySchema = schemaOf<VersionInventory>()(
  z.object({
    version: z.string(),
    enabled: z.boolean(),
    createdOn: z.string().optional(),
    updatedOn: z.string().optional(),
    expiresOn: z.string().optional(),
    notBefore: z.string().optional(),
    tags: z.record(z.string(), z.string()),
    contentType: z.string().optional(),
  }),
);

/** Schema of a stored inventory, checked when it is read back. */
export const objectInventorySchema = schemaOf<ObjectInventory>()(
  z.object({
    type: objectTypeSchema,
    name: z.string(),
    fingerprint: z.string(),
    enabled: z.boolean(),
    tags: z.record(z.string(), z.string()),
    contentType: z.string().optional(),
    versions: z.array(versionInventorySchema),
  }),
);

/** Where each backup's inventory is kept: a small create-only document beside the backup blob. */
export interface InventoryStore {
  /** Records the inventory of the object a backup blob holds (create-only). */
  putInventory(backupBlobName: string, inventory: ObjectInventory): Promise<void>;
  /** The inventory recorded with a backup blob; undefined for backups taken before inventories were kept. */
  readInventory(backupBlobName: string): Promise<ObjectInventory | undefined>;
}

const iso = (at: Date | undefined) => at?.toISOString();

function byCreation(a: VersionInventory, b: VersionInventory): number {
  return (a.createdOn ?? '').localeCompare(b.createdOn ?? '') || a.version.localeCompare(b.version);
}

/**
 * Describes an object from its version listing (the listing carries attributes and tags, no values).
 * @param type - the object type
 * @param name - the object name, as the vault spells it
 * @param versions - every version, as the vault port lists them
 */
export function describeObject(type: ObjectType, name: string, versions: readonly ObjectVersion[]): ObjectInventory {
  const described = versions
    .map((v): VersionInventory => ({
      version: v.version,
      enabled: v.enabled,
      ...(v.createdOn ? { createdOn: iso(v.createdOn) } : {}),
      ...(v.updatedOn ? { updatedOn: iso(v.updatedOn) } : {}),
      ...(v.expiresOn ? { expiresOn: iso(v.expiresOn) } : {}),
      ...(v.notBefore ? { notBefore: iso(v.notBefore) } : {}),
      tags: { ...(v.tags ?? {}) },
      ...(v.contentType ? { contentType: v.contentType } : {}),
    }))
    .sort(byCreation);
  const newest = described.at(-1);
  return {
    type,
    name,
    fingerprint: versionsFingerprint(versions),
    enabled: newest?.enabled ?? false,
    tags: { ...(newest?.tags ?? {}) },
    ...(newest?.contentType ? { contentType: newest.contentType } : {}),
    versions: described,
  };
}

/**
 * Records a stored backup's inventory. The backup is what matters: a failed write is logged and the backup stands
 * (browse and diff then show that object's version count only).
 * @param inventory - the inventory store; nothing is recorded without one
 * @param backupBlobName - the backup blob just stored
 * @param description - what `describeObject` made of the versions that were backed up
 * @param logger - where a failure is reported
 */
export async function recordInventory(
  inventory: InventoryStore | undefined,
  backupBlobName: string,
  description: ObjectInventory,
  logger: Logger,
): Promise<void> {
  if (!inventory) return;
  try {
    await inventory.putInventory(backupBlobName, description);
  } catch (error) {
    logger.warn('backup inventory could not be recorded', { blobName: backupBlobName, ...describeError(error) });
  }
}
