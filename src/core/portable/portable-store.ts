import { z } from 'zod';
import { schemaOf } from '../schema-of';
import type { PortableEnvelope, PortableType } from './envelope';

/** The snapshot format this kvguard writes and reads. */
export const SNAPSHOT_FORMAT = 'kvguard-portable-snapshot-1';

/**
 * One object's portable export at one backup: its versions, oldest first, each named by version and metadata digest
 * (the envelopes are found by those, so a rewrapped envelope serves every snapshot that names the version).
 */
export interface PortableSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  vault: string;
  type: PortableType;
  name: string;
  /** When the opaque backup it sits beside was taken (ISO). */
  takenAt: string;
  runId: string;
  /** The opaque backup blob this export accompanies. */
  opaqueBlob: string;
  versions: { version: string; digest: string }[];
  /** A certificate's policy (no secret material), imported with each version. */
  policy?: unknown;
  /** Versions disabled at export: Key Vault does not read out a disabled secret's value, so they are not carried. */
  disabledVersions?: string[];
  /** Why nothing of this object could be carried (a certificate whose private key is not exportable). */
  notCarried?: string;
  /** The versioned KEK id that wrapped the envelopes sealed for this snapshot. */
  kekId?: string;
}

/** Schema of a stored snapshot. */
export const portableSnapshotSchema = schemaOf<PortableSnapshot>()(
  z.object({
    format: z.literal(SNAPSHOT_FORMAT),
    vault: z.string().min(1),
    type: z.enum(['secret', 'certificate']),
    name: z.string().min(1),
    takenAt: z.iso.datetime({ offset: true }),
    runId: z.string().min(1),
    opaqueBlob: z.string().min(1),
    versions: z.array(z.object({ version: z.string().min(1), digest: z.string().min(1) })),
    policy: z.unknown().optional(),
    disabledVersions: z.array(z.string()).optional(),
    notCarried: z.string().optional(),
    kekId: z.string().optional(),
  }),
);

/** A stored envelope as its listing shows it (no content read). */
export interface EnvelopeRef {
  blobName: string;
  type: PortableType;
  /** The object's name as kvguard stored it (lower case in the blob name; the envelope keeps the spelling). */
  objectKey: string;
  version: string;
  digest: string;
  /** The versioned KEK id that wrapped its data key. */
  keyId: string;
  sealedAt: string;
}

/** A stored snapshot with its blob name. */
export type StoredSnapshot = PortableSnapshot & { blobName: string };

/** Where portable exports are kept: create-only, in the backup container beside the opaque backups. */
export interface PortableStore {
  /** Stores an envelope (create-only; `AlreadyExists` rather than overwrite). */
  putEnvelope(envelope: PortableEnvelope, digest: string): Promise<EnvelopeRef>;
  /** Every envelope of one object (any version, any KEK version), or of every object of a vault. */
  listEnvelopes(vault: string, type?: PortableType, name?: string): Promise<EnvelopeRef[]>;
  /** One envelope, checked against its schema; `NotFound` when absent. */
  readEnvelope(blobName: string): Promise<PortableEnvelope>;
  /** Stores a snapshot (create-only); answers its blob name. */
  putSnapshot(snapshot: PortableSnapshot): Promise<string>;
  /** The newest snapshot of one object, optionally the newest taken at or before `asOf`. */
  latestSnapshot(vault: string, type: PortableType, name: string, asOf?: Date): Promise<StoredSnapshot | undefined>;
  /** The newest snapshot (at or before `asOf`) of every object of a vault that has one, optionally of one type. */
  latestSnapshots(vault: string, options?: { type?: PortableType; asOf?: Date }): Promise<StoredSnapshot[]>;
}
