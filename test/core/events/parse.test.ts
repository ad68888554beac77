import { describe, expect, it } from 'vitest';
import { classifyEvent, parseEnvelope, type ClassifiedEvent, type ObjectEvent } from '../../../src/core/events';
import {
  accessPolicyChangedEvent,
  envelope,
  keyVaultObjectEvent,
  OBJECT_EVENT_TYPES,
  resourceDeletedEvent,
  SCHEMAS,
  vaultResourceId,
} from './fixtures';

function classify(raw: unknown): ClassifiedEvent {
  const parsed = parseEnvelope(raw);
  if (!parsed.ok) return { kind: 'rejected', reason: parsed.reason };
  return classifyEvent(parsed.value);
}

function objectEvent(raw: unknown): ObjectEvent {
  const result = classify(raw);
  if (result.kind !== 'event' || result.event.kind !== 'object')
    throw new Error(`not an object event: ${JSON.stringify(result)}`);
  return result.event;
}

describe('parseEnvelope', () => {
  it.each(SCHEMAS)('reads the %s envelope', (schema) => {
    const parsed = parseEnvelope(
      keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', { schema, id: 'evt-1' }),
    );
    expect(parsed).toMatchObject({
      ok: true,
      value: {
        schema,
        id: 'evt-1',
        type: 'Microsoft.KeyVault.KeyNewVersionCreated',
        source: vaultResourceId('contoso'),
        subject: 'db-key',
      },
    });
  });

  it('matches envelope property names whatever their casing', () => {
    const parsed = parseEnvelope({
      ID: 'x',
      EventType: 'Microsoft.KeyVault.KeyExpired',
      Topic: vaultResourceId('v'),
      Data: { ObjectName: 'k' },
    });
    expect(parsed).toMatchObject({
      ok: true,
      value: { id: 'x', type: 'Microsoft.KeyVault.KeyExpired', data: { ObjectName: 'k' } },
    });
  });

  it('decodes data sent as JSON text, and CloudEvents data_base64', () => {
    const text = parseEnvelope({ id: '1', eventType: 't', data: JSON.stringify({ VaultName: 'v' }) });
    expect(text).toMatchObject({ ok: true, value: { data: { VaultName: 'v' } } });
    const base64 = parseEnvelope({
      specversion: '1.0',
      id: '2',
      type: 't',
      source: 's',
      data_base64: Buffer.from('{"VaultName":"w"}').toString('base64'),
    });
    expect(base64).toMatchObject({ ok: true, value: { data: { VaultName: 'w' } } });
  });

  it('accepts a whole event delivered as JSON text', () => {
    expect(parseEnvelope(JSON.stringify({ id: '1', eventType: 't' }))).toMatchObject({ ok: true, value: { id: '1' } });
  });

  it.each([
    [null, 'null'],
    [[{ id: '1' }], 'an array'],
    ['not json', 'not JSON'],
    [42, 'a number'],
    [{ id: '1', subject: 's' }, 'neither eventType'],
    [{ eventType: 'Microsoft.KeyVault.KeyExpired', data: {} }, 'id'],
    [{ id: '', eventType: 'Microsoft.KeyVault.KeyExpired' }, 'id'],
    [{ specversion: '0.3', id: '1', type: 't', source: 's' }, 'specversion'],
    [{ specversion: '1.0', id: '1', type: 't' }, 'source'],
  ])('rejects %j with a reason', (raw, reason) => {
    const parsed = parseEnvelope(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });
});

describe('classifyEvent: Key Vault object events', () => {
  describe.each(SCHEMAS)('%s schema', (schema) => {
    it.each(OBJECT_EVENT_TYPES)('reads $eventType', ({ type, suffix, eventType }) => {
      const event = objectEvent(
        keyVaultObjectEvent(eventType, { schema, vault: 'Contoso', name: 'db-key', version: 'abc123' }),
      );
      const action = { NewVersionCreated: 'newVersion', NearExpiry: 'nearExpiry', Expired: 'expired' }[suffix];
      expect(event).toMatchObject({
        kind: 'object',
        action,
        objectType: type.toLowerCase(),
        objectName: 'db-key',
        version: 'abc123',
        vaultName: 'contoso',
        vaultUrl: 'https://contoso.vault.azure.net/',
        notBefore: new Date(1559081980_000),
        expiresOn: new Date(1559082102_000),
      });
    });
  });

  it.each([
    ['numbers', 1559081980, 1559082102, new Date(1559081980_000), new Date(1559082102_000)],
    ['numeric strings', '1559081980', '1559082102', new Date(1559081980_000), new Date(1559082102_000)],
    ['nulls', null, null, undefined, undefined],
    ['empty strings', '', '', undefined, undefined],
    [
      'ISO strings',
      '2025-01-01T00:00:00Z',
      '2026-01-01T00:00:00Z',
      new Date('2025-01-01T00:00:00Z'),
      new Date('2026-01-01T00:00:00Z'),
    ],
    ['milliseconds', 1559081980123, 1559082102123, new Date(1559081980123), new Date(1559082102123)],
    ['garbage', 'soon', { at: 1 }, undefined, undefined],
    ['absent', undefined, undefined, undefined, undefined],
  ])('reads NBF/EXP sent as %s', (_label, nbf, exp, notBefore, expiresOn) => {
    const event = objectEvent(
      keyVaultObjectEvent('Microsoft.KeyVault.SecretNearExpiry', { data: { NBF: nbf, EXP: exp } }),
    );
    expect(event.notBefore).toEqual(notBefore);
    expect(event.expiresOn).toEqual(expiresOn);
  });

  it('reads data property names in any casing', () => {
    const event = objectEvent({
      id: '1',
      eventType: 'microsoft.keyvault.keynewversioncreated',
      data: {
        id: 'https://CONTOSO.vault.azure.net/keys/Db-Key/v1',
        VAULTNAME: 'CONTOSO',
        objectname: 'Db-Key',
        nbf: '1',
        exp: null,
      },
    });
    expect(event).toMatchObject({
      objectType: 'key',
      action: 'newVersion',
      objectName: 'Db-Key',
      vaultName: 'contoso',
      version: 'v1',
    });
  });

  it('falls back to the id for the name, version and vault when the other fields are missing', () => {
    const event = objectEvent(
      keyVaultObjectEvent('Microsoft.KeyVault.CertificateNewVersionCreated', {
        vault: 'fabrikam',
        name: 'web-tls',
        data: { VaultName: undefined, ObjectName: undefined, Version: undefined, ObjectType: undefined },
        subject: null,
        topic: null,
      }),
    );
    expect(event).toMatchObject({
      objectType: 'certificate',
      objectName: 'web-tls',
      vaultName: 'fabrikam',
      version: 'ee059b2bb5bc48398a53b168c6cdcb10',
    });
  });

  it('falls back to the subject and topic when the data holds only the name', () => {
    const event = objectEvent(
      keyVaultObjectEvent('Microsoft.KeyVault.KeyExpired', {
        vault: 'fabrikam',
        name: 'k1',
        data: { Id: undefined, VaultName: undefined, ObjectName: undefined },
      }),
    );
    expect(event).toMatchObject({ objectName: 'k1', vaultName: 'fabrikam', vaultUrl: undefined });
  });

  it('trusts the event type over a contradicting ObjectType', () => {
    expect(
      objectEvent(keyVaultObjectEvent('Microsoft.KeyVault.SecretNewVersionCreated', { data: { ObjectType: 'Key' } }))
        .objectType,
    ).toBe('secret');
  });

  it.each([
    ['no object name anywhere', { data: { Id: undefined, ObjectName: undefined }, subject: null }, 'names no object'],
    ['an impossible object name', { data: { ObjectName: 'db key/../x' } }, 'is not a Key Vault object name'],
    ['no vault anywhere', { data: { Id: undefined, VaultName: undefined }, topic: null }, 'names no vault'],
    ['an impossible vault name', { data: { VaultName: 'con toso' } }, 'is not a Key Vault name'],
  ])('rejects an event with %s', (_label, options, reason) => {
    const result = classify(keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', options));
    expect(result).toMatchObject({ kind: 'rejected' });
    if (result.kind === 'rejected') expect(result.reason).toContain(reason);
  });

  it('rejects an event whose data is not an object', () => {
    expect(
      classify(envelope('EventGrid', { eventType: 'Microsoft.KeyVault.KeyNewVersionCreated', data: 42 })),
    ).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('data is not an object'),
    });
  });
});

describe('classifyEvent: vault events', () => {
  it.each(SCHEMAS)('reads VaultAccessPolicyChanged (%s)', (schema) => {
    expect(classify(accessPolicyChangedEvent({ schema, vault: 'Contoso' }))).toMatchObject({
      kind: 'event',
      event: { kind: 'accessPolicyChanged', vaultName: 'contoso', vaultUrl: 'https://contoso.vault.azure.net/' },
    });
  });

  it.each(SCHEMAS)('reads ResourceDeleteSuccess of a vault (%s)', (schema) => {
    const resourceId = vaultResourceId('Contoso').replace('Microsoft.KeyVault', 'microsoft.keyvault');
    expect(classify(resourceDeletedEvent(resourceId, { schema }))).toMatchObject({
      kind: 'event',
      event: { kind: 'vaultDeleted', vaultName: 'contoso', resourceId },
    });
  });

  it.each([
    '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/kvguard',
    '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/hsm1',
    '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/contoso/privateEndpointConnections/pe1',
  ])('acknowledges and ignores the deletion of %s', (resourceUri) => {
    expect(classify(resourceDeletedEvent(resourceUri))).toMatchObject({
      kind: 'ignored',
      reason: expect.stringContaining('not a Key Vault vault'),
    });
  });

  it('ignores unknown event types and the subscription handshake', () => {
    expect(classify(envelope('EventGrid', { eventType: 'Microsoft.Storage.BlobCreated', data: {} }))).toMatchObject({
      kind: 'ignored',
    });
    expect(
      classify(
        envelope('EventGrid', {
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          data: { validationCode: 'x' },
        }),
      ),
    ).toMatchObject({
      kind: 'ignored',
    });
  });
});
