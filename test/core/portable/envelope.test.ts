import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { metadataDigest, openEnvelope, sealVersion, type SealedIdentity } from '../../../src/core/portable/envelope';
import type { KeyWrapper } from '../../../src/core/ports';

/** A KEK held in process: real RSA-OAEP-256, as Key Vault's wrapKey does it. */
function localKek(keyId: string): KeyWrapper {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const oaep = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };
  return {
    wrap: async (dataKey) => ({ keyId, wrappedKey: publicEncrypt({ key: publicKey, ...oaep }, dataKey) }),
    unwrap: async (_id, wrapped) => privateDecrypt({ key: privateKey, ...oaep }, wrapped),
    currentKeyId: async () => keyId,
  };
}

const identity: SealedIdentity = {
  vault: 'demo',
  type: 'secret',
  name: 'db-password',
  version: 'a1b2',
  metadata: { contentType: 'text/plain', tags: { env: 'prod' }, enabled: true, expiresOn: '2030-01-01T00:00:00.000Z' },
};
const canary = 'canary-7f3e9d-value';
const kek = localKek('https://offsite.vault.azure.net/keys/kek/v1');
const now = new Date('2026-12-01T12:00:00Z');

describe('portable envelope', () => {
  it('seals a value so that only the KEK opens it, and keeps no plaintext in the envelope', async () => {
    const envelope = await sealVersion(identity, canary, kek, now);
    expect(JSON.stringify(envelope)).not.toContain(canary);
    expect(Buffer.from(envelope.kek.wrappedKey, 'base64').byteLength).toBe(256);
    expect(envelope.kek).toMatchObject({
      keyId: 'https://offsite.vault.azure.net/keys/kek/v1',
      algorithm: 'RSA-OAEP-256',
    });
    expect(await openEnvelope(envelope, kek, 'e1')).toBe(canary);
  });

  it('uses a fresh data key and IV per envelope', async () => {
    const [a, b] = await Promise.all([
      sealVersion(identity, canary, kek, now),
      sealVersion(identity, canary, kek, now),
    ]);
    expect(a.kek.wrappedKey).not.toBe(b.kek.wrappedKey);
    expect(a.cipher.iv).not.toBe(b.cipher.iv);
    expect(a.cipher.ciphertext).not.toBe(b.cipher.ciphertext);
  });

  it('refuses a flipped GCM tag, a flipped ciphertext byte, swapped identity or edited metadata', async () => {
    const envelope = await sealVersion(identity, canary, kek, now);
    const tag = Buffer.from(envelope.cipher.tag, 'base64');
    tag[0]! ^= 1;
    const data = Buffer.from(envelope.cipher.ciphertext, 'base64');
    data[0]! ^= 1;
    const tampered = [
      { ...envelope, cipher: { ...envelope.cipher, tag: tag.toString('base64') } },
      { ...envelope, cipher: { ...envelope.cipher, ciphertext: data.toString('base64') } },
      { ...envelope, name: 'other-secret' },
      { ...envelope, version: 'c3d4' },
      { ...envelope, vault: 'prod' },
      { ...envelope, metadata: { ...envelope.metadata, enabled: false } },
      { ...envelope, metadata: { ...envelope.metadata, tags: { env: 'dev' } } },
    ];
    for (const bad of tampered) {
      await expect(openEnvelope(bad, kek, 'portable/e1.json')).rejects.toMatchObject({
        code: 'IntegrityError',
        message: expect.stringContaining('envelope portable/e1.json failed authentication'),
      });
    }
  });

  it('refuses an envelope wrapped by another KEK, naming the KEK and never the value', async () => {
    const envelope = await sealVersion(identity, canary, localKek('https://other.vault.azure.net/keys/kek/v9'), now);
    const error = await openEnvelope(envelope, kek, 'e2').catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'IntegrityError', message: expect.stringContaining('could not unwrap') });
    expect(String((error as Error).message)).not.toContain(canary);
  });

  it('digests metadata so a changed tag or expiry seals the version again, and tag order does not', () => {
    const reordered = { ...identity, metadata: { ...identity.metadata, tags: { b: '2', a: '1' } } };
    const ordered = { ...identity, metadata: { ...identity.metadata, tags: { a: '1', b: '2' } } };
    expect(metadataDigest(reordered)).toBe(metadataDigest(ordered));
    expect(metadataDigest(identity)).not.toBe(metadataDigest(ordered));
    expect(metadataDigest({ ...identity, metadata: { ...identity.metadata, expiresOn: undefined } })).not.toBe(
      metadataDigest(identity),
    );
  });
});
