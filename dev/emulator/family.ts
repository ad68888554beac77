/**
 * The routes keys, secrets and certificates share: get, update, list, versions, soft delete, deleted views, recover,
 * purge, backup and restore. Each family plugs in how it renders a bundle/item and what else moves with it.
 */
import { badParameter, restoreOverExisting as restoreConflict, type ObjectKind, type ServiceError } from './errors';
import { objectBody, ok, page, parseTags, updateAttributes, type ApiRequest, type Route } from './api';
import { decodeBackup, encodeBackup, type BackupContent } from './backup-codec';
import { deletionJson, type Vault } from './vault';
import type { ObjectCollection, StoredObject, StoredVersion } from './vault-store';

/** What a family contributes to the shared routes. */
export interface FamilySpec<P, E = unknown> {
  kind: ObjectKind;
  collection: 'keys' | 'secrets' | 'certificates';
  store(vault: Vault): ObjectCollection<P, E>;
  /** Full bundle of a version (get/create answers). */
  bundle(vault: Vault, object: StoredObject<P, E>, version: StoredVersion<P>): Record<string, unknown>;
  /** List item of a version (no secret material). */
  item(vault: Vault, object: StoredObject<P, E>, version: StoredVersion<P>): Record<string, unknown>;
  /** Family-specific fields of an update body (key_ops, contentType, policy …). */
  applyUpdate?(
    vault: Vault,
    object: StoredObject<P, E>,
    version: StoredVersion<P>,
    body: Record<string, unknown>,
  ): void;
  /** Versions that lists leave out (a certificate still being issued, unless `includePending=true`). */
  hiddenFromLists?(version: StoredVersion<P>, request: ApiRequest): boolean;
  /** Refuses to answer a version's full bundle (Key Vault will not read out a disabled secret's value). */
  refuseRead?(version: StoredVersion<P>): ServiceError | undefined;
  /** Objects of other families that move with this one (a certificate's managed key and secret). */
  companions?(vault: Vault): ObjectCollection<unknown>[];
}

function latest<P>(object: StoredObject<P, unknown>): StoredVersion<P> {
  const version = object.versions.at(-1);
  if (!version) throw new Error(`object ${object.name} has no versions`);
  return version;
}

/** Everything a backup of `name` must hold: the object and the companions stored under the same name. */
export function backupContent<P, E>(spec: FamilySpec<P, E>, vault: Vault, name: string): BackupContent {
  const object = spec.store(vault).live(name);
  const companions = (spec.companions?.(vault) ?? [])
    .map((collection) => ({ kind: collection.kind, object: collection.findLive(name) }))
    .filter((entry): entry is { kind: ObjectKind; object: StoredObject<unknown> } => entry.object !== undefined);
  return { kind: spec.kind, object, companions };
}

/** Builds the shared routes for a family. */
export function familyRoutes<P, E>(spec: FamilySpec<P, E>): Route[] {
  const { collection } = spec;
  const deleted = `deleted${collection}`;
  const store = (request: ApiRequest) => spec.store(request.vault);
  const movers = (request: ApiRequest) => [
    store(request) as ObjectCollection<unknown>,
    ...(spec.companions?.(request.vault) ?? []),
  ];

  const listed = (request: ApiRequest, object: StoredObject<P, E>) =>
    object.versions.filter((version) => !spec.hiddenFromLists?.(version, request));
  const listedObjects = (request: ApiRequest, objects: StoredObject<P, E>[]) =>
    objects.filter((object) => listed(request, object).length > 0);

  const readable = <V extends StoredVersion<P>>(version: V): V => {
    const refusal = spec.refuseRead?.(version);
    if (refusal) throw refusal;
    return version;
  };

  const getVersion = (request: ApiRequest, name: string, version: string) => {
    const found = store(request).version(name, version);
    return ok(spec.bundle(request.vault, found.object, readable(found.version)));
  };

  const update = (request: ApiRequest, name: string, versionId: string) => {
    const body = objectBody(request);
    const { object, version } = store(request).version(name, versionId);
    updateAttributes(version.attributes, body, request.vault.nowSeconds());
    const tags = parseTags(body);
    if (tags !== undefined) version.tags = tags;
    spec.applyUpdate?.(request.vault, object, version, body);
    store(request).touched();
    return ok(spec.bundle(request.vault, object, version));
  };

  return [
    { method: 'GET', pattern: `${collection}/:name`, handle: (r, p) => getVersion(r, p['name']!, '') },
    {
      method: 'GET',
      pattern: `${collection}/:name/versions`,
      handle: (r, p) => {
        const object = store(r).live(p['name']!);
        return page(r, listed(r, object), (version) => spec.item(r.vault, object, version));
      },
    },
    {
      method: 'GET',
      pattern: `${collection}/:name/:version`,
      handle: (r, p) => getVersion(r, p['name']!, p['version']!),
    },
    { method: 'PATCH', pattern: `${collection}/:name`, handle: (r, p) => update(r, p['name']!, '') },
    {
      method: 'PATCH',
      pattern: `${collection}/:name/:version`,
      handle: (r, p) => update(r, p['name']!, p['version']!),
    },
    {
      method: 'GET',
      pattern: collection,
      handle: (r) =>
        page(r, listedObjects(r, store(r).listLive()), (object) =>
          spec.item(r.vault, object, listed(r, object).at(-1)!),
        ),
    },
    {
      method: 'DELETE',
      pattern: `${collection}/:name`,
      handle: (r, p) => {
        const name = p['name']!;
        store(r).live(name);
        const [own, ...others] = movers(r);
        const object = own!.softDelete(name) as StoredObject<P, E>;
        for (const other of others) if (other.findLive(name)) other.softDelete(name);
        return ok({ ...spec.bundle(r.vault, object, latest(object)), ...deletionJson(r.vault, collection, object) });
      },
    },
    {
      method: 'GET',
      pattern: deleted,
      handle: (r) =>
        page(r, listedObjects(r, store(r).listDeleted()), (object) => ({
          ...spec.item(r.vault, object, listed(r, object).at(-1)!),
          ...deletionJson(r.vault, collection, object),
        })),
    },
    {
      method: 'GET',
      pattern: `${deleted}/:name`,
      handle: (r, p) => {
        const object = store(r).deleted(p['name']!);
        return ok({
          ...spec.bundle(r.vault, object, readable(latest(object))),
          ...deletionJson(r.vault, collection, object),
        });
      },
    },
    {
      method: 'POST',
      pattern: `${deleted}/:name/recover`,
      handle: (r, p) => {
        const name = p['name']!;
        const [own, ...others] = movers(r);
        const object = own!.recover(name) as StoredObject<P, E>;
        for (const other of others) if (other.findDeleted(name)) other.recover(name);
        return ok(spec.bundle(r.vault, object, latest(object)));
      },
    },
    {
      method: 'DELETE',
      pattern: `${deleted}/:name`,
      handle: (r, p) => {
        const name = p['name']!;
        const [own, ...others] = movers(r);
        own!.purge(name);
        for (const other of others) if (other.findDeleted(name)) other.purge(name);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      pattern: `${collection}/:name/backup`,
      handle: (r, p) => {
        const content = backupContent(spec, r.vault, p['name']!);
        return ok({ value: encodeBackup(r.vault, content) });
      },
    },
    {
      method: 'POST',
      pattern: `${collection}/restore`,
      handle: (r) => {
        const value = objectBody(r)['value'];
        if (typeof value !== 'string' || value === '') throw badParameter('Property value is required.');
        const content = decodeBackup(r.vault, spec.kind, value);
        const [own, ...others] = movers(r);
        own!.assertNameUsable(content.object.name);
        if (own!.findLive(content.object.name)) throw restoreConflict(spec.kind, content.object.name);
        for (const companion of content.companions) {
          const target = others.find((other) => other.kind === companion.kind);
          target?.assertNameUsable(companion.object.name);
          if (target?.findLive(companion.object.name)) throw restoreConflict(spec.kind, content.object.name);
        }
        const object = own!.insertRestored(content.object) as StoredObject<P, E>;
        for (const companion of content.companions) {
          others.find((other) => other.kind === companion.kind)?.insertRestored(companion.object);
        }
        return ok(spec.bundle(r.vault, object, latest(object)));
      },
    },
  ];
}
