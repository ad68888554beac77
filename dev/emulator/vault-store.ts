/**
 * One object family (keys, secrets or certificates) of one vault: versions, soft delete and the short "in between"
 * states Key Vault goes through while a delete, recover or purge finishes in the background.
 */
import { randomUUID } from 'node:crypto';
import {
  beingDeleted,
  beingDeletedCannotRecreate,
  beingRecovered,
  deletedButRecoverable,
  deletedNotFound,
  notFound,
  type ObjectKind,
} from './errors';

/** Attributes Key Vault keeps per version (times in epoch seconds, as on the wire). */
export interface VersionAttributes {
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

/** One version of an object with its kind-specific payload. */
export interface StoredVersion<P> {
  version: string;
  attributes: VersionAttributes;
  tags?: Record<string, string>;
  managed?: boolean;
  payload: P;
}

/** Soft-delete facts, present while the object sits in the deleted list. */
export interface DeletionInfo {
  deletedDate: number;
  scheduledPurgeDate: number;
}

/** A background transition; `until` is emulator-clock milliseconds. */
export interface Transition {
  state: 'deleting' | 'recovering' | 'purging';
  until: number;
}

/** An object (all its versions) under one name, with the name's original casing. */
export interface StoredObject<P, E = unknown> {
  name: string;
  versions: StoredVersion<P>[];
  deleted?: DeletionInfo;
  transition?: Transition;
  /** Kind-specific object-level state (a certificate's policy and pending operation). */
  extra?: E;
}

/** Soft-delete retention Key Vault applies by default (days). */
export const RETENTION_DAYS = 90;

/** Timing knobs for the in-between states. */
export interface TransitionTiming {
  pendingMs: number;
  purgeConflictMs: number;
}

/** A new 32-hex-digit version id like Key Vault's. */
export function newVersionId(): string {
  return randomUUID().replace(/-/g, '');
}

/**
 * What the REST handlers and persistence need from the objects of one family: the store interface the handlers are
 * written against (an in-memory {@link ObjectCollection} today; another store only has to keep these promises).
 */
export interface ObjectStore<P, E = unknown> {
  readonly kind: ObjectKind;
  /** The live object, or Key Vault's 404 (also while it is being deleted or recovered). */
  live(name: string): StoredObject<P, E>;
  findLive(name: string): StoredObject<P, E> | undefined;
  /** A version of the live object (`''` = latest), or 404. */
  version(name: string, version: string): { object: StoredObject<P, E>; version: StoredVersion<P> };
  /** The soft-deleted object; 404 while it is still being deleted, recovered or purged. */
  deleted(name: string): StoredObject<P, E>;
  findDeleted(name: string): StoredObject<P, E> | undefined;
  /** Refuses to (re)create a name that is soft-deleted, in transition or recently purged. */
  assertNameUsable(name: string): void;
  addVersion(
    name: string,
    build: (versionId: string, now: number) => Omit<StoredVersion<P>, 'version'>,
    versionId?: string,
  ): { object: StoredObject<P, E>; version: StoredVersion<P> };
  insertRestored(object: StoredObject<P, E>): StoredObject<P, E>;
  /** Records a change made in place to a live object. */
  touched(): void;
  softDelete(name: string): StoredObject<P, E>;
  recover(name: string): StoredObject<P, E>;
  purge(name: string): void;
  listLive(): StoredObject<P, E>[];
  listDeleted(): StoredObject<P, E>[];
  /** Every stored object, for persistence and expiry scans. */
  all(): StoredObject<P, E>[];
  /** Replaces the contents (loading persisted state). */
  load(objects: StoredObject<P, E>[]): void;
}

/** The objects of one kind in one vault, keyed case-insensitively as Key Vault does. */
export class ObjectCollection<P, E = unknown> implements ObjectStore<P, E> {
  private readonly objects = new Map<string, StoredObject<P, E>>();
  /** Names purged recently: restore/create still answers 409 until the time (emulator-clock ms). */
  private readonly purgeConflicts = new Map<string, number>();

  constructor(
    readonly kind: ObjectKind,
    private readonly timing: () => TransitionTiming,
    /** The emulator clock (ms): timestamps and in-between states both follow it, so moving it settles them. */
    private readonly nowMs: () => number,
    private readonly onChange: () => void,
  ) {}

  private nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  private settle(key: string): StoredObject<P, E> | undefined {
    const object = this.objects.get(key);
    if (!object?.transition || object.transition.until > this.nowMs()) return object;
    const { state } = object.transition;
    delete object.transition;
    if (state === 'recovering') delete object.deleted;
    if (state === 'purging') {
      this.objects.delete(key);
      return undefined;
    }
    return object;
  }

  private entry(name: string): StoredObject<P, E> | undefined {
    return this.settle(name.toLowerCase());
  }

  /** The live object, or Key Vault's 404 (also while it is being deleted or recovered). */
  live(name: string): StoredObject<P, E> {
    const object = this.entry(name);
    if (!object || object.deleted || object.transition) throw notFound(this.kind, name);
    return object;
  }

  /** The live object if there is one, without throwing. */
  findLive(name: string): StoredObject<P, E> | undefined {
    const object = this.entry(name);
    return object && !object.deleted && !object.transition ? object : undefined;
  }

  /** A version of the live object (`''` = latest), or 404. */
  version(name: string, version: string): { object: StoredObject<P, E>; version: StoredVersion<P> } {
    const object = this.live(name);
    const found = version ? object.versions.find((v) => v.version === version.toLowerCase()) : object.versions.at(-1);
    if (!found) throw notFound(this.kind, name, version);
    return { object, version: found };
  }

  /** The soft-deleted object; 404 while it is still being deleted, recovered or purged. */
  deleted(name: string): StoredObject<P, E> {
    const object = this.entry(name);
    if (!object?.deleted || object.transition) throw deletedNotFound(this.kind, name);
    return object;
  }

  /** The settled soft-deleted object if there is one, without throwing. */
  findDeleted(name: string): StoredObject<P, E> | undefined {
    const object = this.entry(name);
    return object?.deleted && !object.transition ? object : undefined;
  }

  /** Refuses to (re)create a name that is soft-deleted, in transition or recently purged. */
  assertNameUsable(name: string): void {
    const key = name.toLowerCase();
    const object = this.settle(key);
    const purgeConflictUntil = this.purgeConflicts.get(key);
    // After a purge Key Vault answers 404 everywhere, yet refuses the name for a while (azure-sdk-for-net#26027).
    if (purgeConflictUntil !== undefined && purgeConflictUntil > this.nowMs())
      throw beingDeletedCannotRecreate(this.kind, name);
    if (!object) return;
    if (object.transition?.state === 'recovering') throw beingRecovered(this.kind, object.name);
    if (object.transition) throw beingDeletedCannotRecreate(this.kind, object.name);
    if (object.deleted) throw deletedButRecoverable(this.kind, object.name);
  }

  /** Adds a version (creating the object when the name is free) and returns it. */
  addVersion(
    name: string,
    build: (versionId: string, now: number) => Omit<StoredVersion<P>, 'version'>,
    versionId: string = newVersionId(),
  ): { object: StoredObject<P, E>; version: StoredVersion<P> } {
    this.assertNameUsable(name);
    const key = name.toLowerCase();
    const object = this.objects.get(key) ?? { name, versions: [] };
    const version: StoredVersion<P> = { version: versionId, ...build(versionId, this.nowSeconds()) };
    object.versions.push(version);
    this.objects.set(key, object);
    this.onChange();
    return { object, version };
  }

  /** Puts a whole object back (restore), keeping its versions, ids and timestamps. */
  insertRestored(object: StoredObject<P, E>): StoredObject<P, E> {
    const key = object.name.toLowerCase();
    this.objects.set(key, object);
    this.purgeConflicts.delete(key);
    this.onChange();
    return object;
  }

  /** Records a change made in place to a live object. */
  touched(): void {
    this.onChange();
  }

  /** Soft-deletes a live object; it becomes visible as deleted after `pendingMs`. */
  softDelete(name: string): StoredObject<P, E> {
    const object = this.live(name);
    const now = this.nowSeconds();
    object.deleted = { deletedDate: now, scheduledPurgeDate: now + RETENTION_DAYS * 24 * 3600 };
    this.startTransition(object, 'deleting');
    this.onChange();
    return object;
  }

  /** Starts recovering a soft-deleted object; it is live again after `pendingMs`. */
  recover(name: string): StoredObject<P, E> {
    // Recorded: recovering a name that is not soft-deleted answers the live object's 404, not "Deleted … not found".
    if (!this.entry(name)?.deleted) throw notFound(this.kind, name);
    const object = this.deletedForAction(name);
    this.startTransition(object, 'recovering');
    this.onChange();
    return object;
  }

  /** Purges a soft-deleted object; the name stays blocked for `pendingMs + purgeConflictMs`. */
  purge(name: string): void {
    const object = this.deletedForAction(name);
    const key = object.name.toLowerCase();
    this.startTransition(object, 'purging');
    const { pendingMs, purgeConflictMs } = this.timing();
    this.purgeConflicts.set(key, this.nowMs() + pendingMs + purgeConflictMs);
    this.onChange();
  }

  private deletedForAction(name: string): StoredObject<P, E> {
    const object = this.entry(name);
    if (object?.transition?.state === 'deleting') throw beingDeleted(this.kind);
    if (object?.transition?.state === 'recovering') throw beingRecovered(this.kind, object.name);
    return this.deleted(name);
  }

  private startTransition(object: StoredObject<P, E>, state: Transition['state']): void {
    const { pendingMs } = this.timing();
    object.transition = { state, until: this.nowMs() + pendingMs };
    if (pendingMs <= 0) this.settle(object.name.toLowerCase());
  }

  /** Live objects sorted by name. */
  listLive(): StoredObject<P, E>[] {
    return this.sorted().filter((object) => !object.deleted && !object.transition);
  }

  /** Soft-deleted objects (settled ones) sorted by name. */
  listDeleted(): StoredObject<P, E>[] {
    return this.sorted().filter((object) => object.deleted && !object.transition);
  }

  private sorted(): StoredObject<P, E>[] {
    for (const key of [...this.objects.keys()]) this.settle(key);
    return [...this.objects.values()].sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
  }

  /** Every stored object, for persistence and expiry scans. */
  all(): StoredObject<P, E>[] {
    return this.sorted();
  }

  /** Replaces the contents (loading persisted state). */
  load(objects: StoredObject<P, E>[]): void {
    this.objects.clear();
    for (const object of objects) this.objects.set(object.name.toLowerCase(), object);
  }
}
