/**
 * Key Vault and ARM events as Event Grid delivers them, in both schemas. Shapes follow the Event Grid Key Vault
 * schema (shared/specs/eventgrid/KeyVault.json) and the samples in the Azure docs: PascalCase data, `subject` = object
 * name, `topic`/`source` = the vault's resource id.
 */
import { randomUUID } from 'node:crypto';

/** Which envelope to wrap the data in. */
export type Schema = 'EventGrid' | 'CloudEvents';

/** Both envelope schemas, for `it.each`. */
export const SCHEMAS: Schema[] = ['EventGrid', 'CloudEvents'];

/** The nine object event types Key Vault publishes. */
export const OBJECT_EVENT_TYPES = (['Key', 'Secret', 'Certificate'] as const).flatMap((type) =>
  (['NewVersionCreated', 'NearExpiry', 'Expired'] as const).map((suffix) => ({
    type,
    suffix,
    eventType: `Microsoft.KeyVault.${type}${suffix}`,
  })),
);

/** The resource id of a vault. */
export function vaultResourceId(vault: string): string {
  return `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/${vault}`;
}

/** Wraps data in an envelope of the given schema. */
export function envelope(
  schema: Schema,
  fields: { id?: string; eventType: string; topic?: string; subject?: string; time?: string; data: unknown },
): Record<string, unknown> {
  const id = fields.id ?? randomUUID();
  const time = fields.time ?? '2025-01-01T00:00:00.000Z';
  if (schema === 'EventGrid') {
    return {
      id,
      topic: fields.topic,
      subject: fields.subject,
      eventType: fields.eventType,
      eventTime: time,
      data: fields.data,
      dataVersion: '1',
      metadataVersion: '1',
    };
  }
  return {
    specversion: '1.0',
    id,
    source: fields.topic,
    subject: fields.subject,
    type: fields.eventType,
    time,
    datacontenttype: 'application/json',
    data: fields.data,
  };
}

/** Options of {@link keyVaultObjectEvent}. */
export interface ObjectEventOptions {
  schema?: Schema;
  id?: string;
  vault?: string;
  name?: string;
  version?: string;
  /** Replaces or adds data fields (undefined deletes one). */
  data?: Record<string, unknown>;
  subject?: string | null;
  topic?: string | null;
}

/** A Key Vault object event, e.g. `keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { name: 'db-key' })`. */
export function keyVaultObjectEvent(eventType: string, options: ObjectEventOptions = {}): Record<string, unknown> {
  const vault = options.vault ?? 'contoso';
  const name = options.name ?? 'db-key';
  const version = options.version ?? 'ee059b2bb5bc48398a53b168c6cdcb10';
  const kind = /\.(Key|Secret|Certificate)/i.exec(eventType)?.[1] ?? 'Key';
  const collection = `${kind.toLowerCase()}s`;
  const data: Record<string, unknown> = {
    Id: `https://${vault}.vault.azure.net/${collection}/${name}/${version}`,
    VaultName: vault,
    ObjectType: kind,
    ObjectName: name,
    Version: version,
    NBF: 1559081980,
    EXP: 1559082102,
  };
  for (const [key, value] of Object.entries(options.data ?? {})) {
    if (value === undefined) delete data[key];
    else data[key] = value;
  }
  return envelope(options.schema ?? 'EventGrid', {
    id: options.id,
    eventType,
    topic: options.topic === null ? undefined : (options.topic ?? vaultResourceId(vault)),
    subject: options.subject === null ? undefined : (options.subject ?? name),
    data,
  });
}

/** A `VaultAccessPolicyChanged` event. */
export function accessPolicyChangedEvent(
  options: { schema?: Schema; id?: string; vault?: string } = {},
): Record<string, unknown> {
  const vault = options.vault ?? 'contoso';
  return envelope(options.schema ?? 'EventGrid', {
    id: options.id,
    eventType: 'Microsoft.KeyVault.VaultAccessPolicyChanged',
    topic: vaultResourceId(vault),
    subject: vault,
    data: {
      Id: `https://${vault}.vault.azure.net/`,
      VaultName: vault,
      ObjectType: 'Vault',
      ObjectName: vault,
      Version: '',
      NBF: null,
      EXP: null,
    },
  });
}

/** An ARM `ResourceDeleteSuccess` event from a subscription system topic. */
export function resourceDeletedEvent(
  resourceUri: string,
  options: { schema?: Schema; id?: string } = {},
): Record<string, unknown> {
  return envelope(options.schema ?? 'EventGrid', {
    id: options.id,
    eventType: 'Microsoft.Resources.ResourceDeleteSuccess',
    topic: '/subscriptions/00000000-0000-0000-0000-000000000001',
    subject: resourceUri,
    data: {
      authorization: { scope: resourceUri, action: 'Microsoft.KeyVault/vaults/delete' },
      claims: {},
      correlationId: randomUUID(),
      resourceProvider: 'Microsoft.KeyVault',
      resourceUri,
      operationName: 'Microsoft.KeyVault/vaults/delete',
      status: 'Succeeded',
      subscriptionId: '00000000-0000-0000-0000-000000000001',
      tenantId: '00000000-0000-0000-0000-000000000002',
    },
  });
}
