import { z } from 'zod';
import { VAULT_NAME_PATTERN, type ObjectType } from '../domain';
import { lowerCaseKeys, optionalText, type EventEnvelope, type Parsed } from './envelope';

/** What happened to a Key Vault object, as kvguard acts on it. */
export type ObjectEventAction = 'newVersion' | 'nearExpiry' | 'expired';

/** Fields every understood event carries. */
interface VaultEventBase {
  eventId: string;
  eventType: string;
  /** Event Grid topic / CloudEvents source, for de-duplication (ids are unique per source). */
  source?: string;
  time?: Date;
  /** Vault name as the event spells it, lower-cased. */
  vaultName?: string;
}

/** A `Microsoft.KeyVault.{Key,Secret,Certificate}{NewVersionCreated,NearExpiry,Expired}` event. */
export interface ObjectEvent extends VaultEventBase {
  kind: 'object';
  action: ObjectEventAction;
  objectType: ObjectType;
  objectName: string;
  version?: string;
  /** Vault URL taken from the object id (`https://host/`), when the event carried one. */
  vaultUrl?: string;
  notBefore?: Date;
  expiresOn?: Date;
}

/** A `Microsoft.KeyVault.VaultAccessPolicyChanged` event. */
export interface AccessPolicyChangedEvent extends VaultEventBase {
  kind: 'accessPolicyChanged';
  vaultUrl?: string;
}

/** A `Microsoft.Resources.ResourceDeleteSuccess` event about a Key Vault vault. */
export interface VaultDeletedEvent extends VaultEventBase {
  kind: 'vaultDeleted';
  vaultName: string;
  /** ARM resource id of the deleted vault. */
  resourceId: string;
}

/** An event kvguard acts on. */
export type VaultEvent = ObjectEvent | AccessPolicyChangedEvent | VaultDeletedEvent;

/** What kvguard makes of one envelope: act on it, acknowledge and ignore it, or reject it with a reason. */
export type ClassifiedEvent =
  { kind: 'event'; event: VaultEvent } | { kind: 'ignored'; reason: string } | { kind: 'rejected'; reason: string };

const OBJECT_EVENT = /^microsoft\.keyvault\.(key|secret|certificate)(newversioncreated|nearexpiry|expired)$/i;
const POLICY_EVENT = /^microsoft\.keyvault\.vaultaccesspolicychanged$/i;
const RESOURCE_DELETED = /^microsoft\.resources\.resourcedeletesuccess$/i;
const VALIDATION_EVENT = /^microsoft\.eventgrid\.subscription(validation|deletion)event$/i;

/** An ARM id of a vault, nothing below it: `/subscriptions/…/providers/Microsoft.KeyVault/vaults/<name>`. */
const VAULT_RESOURCE_ID =
  /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.keyvault\/vaults\/([^/]+)\/?$/i;
/** The vault segment of a topic, which may also name something below the vault. */
const VAULT_IN_TOPIC = /\/providers\/microsoft\.keyvault\/vaults\/([^/]+)/i;
/** Key Vault object names: 1-127 letters, digits and dashes. */
const OBJECT_NAME = /^[0-9a-z-]{1,127}$/i;

const ACTIONS: Record<string, ObjectEventAction> = {
  newversioncreated: 'newVersion',
  nearexpiry: 'nearExpiry',
  expired: 'expired',
};
const COLLECTIONS: Record<string, ObjectType> = { keys: 'key', secrets: 'secret', certificates: 'certificate' };

/**
 * `NBF`/`EXP`: documented as epoch seconds, but real payloads also send them as strings (numeric or ISO) or null.
 * Values too large to be seconds are taken as milliseconds. Anything unreadable becomes undefined: these fields
 * never decide what kvguard does, so they must not make it reject an event.
 */
const epochDate = z
  .unknown()
  .optional()
  .transform((value): Date | undefined => {
    if (value === null || value === undefined || value === '') return undefined;
    const numeric =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)
          ? Number(value)
          : undefined;
    const date =
      numeric !== undefined
        ? new Date(Math.abs(numeric) >= 1e11 ? numeric : numeric * 1000)
        : typeof value === 'string'
          ? new Date(value)
          : undefined;
    return date && !Number.isNaN(date.getTime()) ? date : undefined;
  });

/** Key Vault event data, with keys lower-cased: every field optional, the schema's types not trusted. */
const keyVaultDataSchema = z.object({
  id: optionalText,
  vaultname: optionalText,
  objecttype: optionalText,
  objectname: optionalText,
  version: optionalText,
  nbf: epochDate,
  exp: epochDate,
});

/** `Microsoft.Resources.ResourceDeleteSuccess` data (ARM), keys lower-cased; only what kvguard reads. */
const resourceDeletedDataSchema = z.object({ resourceuri: optionalText, operationname: optionalText });

/** Decides what an envelope is and extracts what kvguard needs from it. */
export function classifyEvent(envelope: EventEnvelope): ClassifiedEvent {
  const base = { eventId: envelope.id, eventType: envelope.type, source: envelope.source, time: envelope.time };
  const objectMatch = OBJECT_EVENT.exec(envelope.type);
  if (objectMatch) {
    const objectType = objectMatch[1]!.toLowerCase() as ObjectType;
    const action = ACTIONS[objectMatch[2]!.toLowerCase()]!;
    return fromParsed(objectEvent(envelope, base, objectType, action));
  }
  if (POLICY_EVENT.test(envelope.type)) return fromParsed(policyEvent(envelope, base));
  if (RESOURCE_DELETED.test(envelope.type)) return resourceDeleted(envelope, base);
  if (VALIDATION_EVENT.test(envelope.type))
    return { kind: 'ignored', reason: `${envelope.type} is answered by the host` };
  return { kind: 'ignored', reason: `event type ${JSON.stringify(envelope.type)} is not one kvguard acts on` };
}

function fromParsed(parsed: Parsed<VaultEvent>): ClassifiedEvent {
  return parsed.ok ? { kind: 'event', event: parsed.value } : { kind: 'rejected', reason: parsed.reason };
}

type Base = Pick<VaultEventBase, 'eventId' | 'eventType' | 'source' | 'time'>;

function keyVaultData(envelope: EventEnvelope): Parsed<z.output<typeof keyVaultDataSchema>> {
  const data = lowerCaseKeys(envelope.data);
  if (!data) return { ok: false, reason: `${envelope.type} ${envelope.id}: data is not an object` };
  return { ok: true, value: keyVaultDataSchema.parse(data) };
}

function objectEvent(
  envelope: EventEnvelope,
  base: Base,
  objectType: ObjectType,
  action: ObjectEventAction,
): Parsed<ObjectEvent> {
  const data = keyVaultData(envelope);
  if (!data.ok) return data;
  const { id, vaultname, objectname, version, nbf, exp } = data.value;
  const fromId = parseObjectId(id);
  const objectName = objectname ?? fromId?.name ?? envelope.subject;
  const where = `${envelope.type} ${envelope.id}`;
  if (!objectName)
    return { ok: false, reason: `${where}: names no object (data.ObjectName, data.Id and subject are all missing)` };
  if (!OBJECT_NAME.test(objectName))
    return { ok: false, reason: `${where}: ObjectName ${JSON.stringify(objectName)} is not a Key Vault object name` };
  const vault = vaultOf(where, vaultname, envelope.source, fromId?.vaultUrl);
  if (!vault.ok) return vault;
  return {
    ok: true,
    value: {
      ...base,
      kind: 'object',
      action,
      objectType,
      objectName,
      version: version ?? fromId?.version,
      vaultName: vault.value.name,
      vaultUrl: fromId?.vaultUrl,
      notBefore: nbf,
      expiresOn: exp,
    },
  };
}

function policyEvent(envelope: EventEnvelope, base: Base): Parsed<AccessPolicyChangedEvent> {
  const data = keyVaultData(envelope);
  if (!data.ok) return data;
  const { id, vaultname, objectname } = data.value;
  const vaultUrl = parseVaultUrl(id);
  const vault = vaultOf(`${envelope.type} ${envelope.id}`, vaultname ?? objectname, envelope.source, vaultUrl);
  if (!vault.ok) return vault;
  return { ok: true, value: { ...base, kind: 'accessPolicyChanged', vaultName: vault.value.name, vaultUrl } };
}

function resourceDeleted(envelope: EventEnvelope, base: Base): ClassifiedEvent {
  const data = lowerCaseKeys(envelope.data);
  const { resourceuri } = resourceDeletedDataSchema.parse(data ?? {});
  const resourceId = resourceuri ?? envelope.subject;
  if (!resourceId)
    return {
      kind: 'rejected',
      reason: `${envelope.type} ${envelope.id}: names no resource (data.resourceUri and subject missing)`,
    };
  const match = VAULT_RESOURCE_ID.exec(resourceId);
  if (!match)
    return { kind: 'ignored', reason: `deleted resource ${JSON.stringify(resourceId)} is not a Key Vault vault` };
  return { kind: 'event', event: { ...base, kind: 'vaultDeleted', vaultName: match[1]!.toLowerCase(), resourceId } };
}

/** The vault an event is about: `data.VaultName`, else the topic's vault segment, else the id's host. */
function vaultOf(
  where: string,
  vaultName: string | undefined,
  source: string | undefined,
  vaultUrl: string | undefined,
): Parsed<{ name: string }> {
  const name =
    vaultName ??
    (source ? VAULT_IN_TOPIC.exec(source)?.[1] : undefined) ??
    (vaultUrl ? new URL(vaultUrl).hostname.split('.')[0] : undefined);
  if (!name)
    return { ok: false, reason: `${where}: names no vault (data.VaultName, topic and data.Id are all missing)` };
  if (!VAULT_NAME_PATTERN.test(name))
    return { ok: false, reason: `${where}: vault name ${JSON.stringify(name)} is not a Key Vault name` };
  return { ok: true, value: { name: name.toLowerCase() } };
}

/** Splits `https://host/keys/<name>[/<version>]` into vault URL, type, name and version. */
export function parseObjectId(
  id: string | undefined,
): { vaultUrl: string; type: ObjectType; name: string; version?: string } | undefined {
  const url = parseVaultUrl(id);
  if (!url || !id) return undefined;
  const [collection, name, version] = new URL(id).pathname.split('/').filter(Boolean);
  const type = collection ? COLLECTIONS[collection.toLowerCase()] : undefined;
  if (!type || !name) return undefined;
  return { vaultUrl: url, type, name: decodeURIComponent(name), version: version || undefined };
}

function parseVaultUrl(id: string | undefined): string | undefined {
  if (!id) return undefined;
  try {
    const url = new URL(id);
    return url.protocol === 'https:' ? `${url.protocol}//${url.host}/`.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}
