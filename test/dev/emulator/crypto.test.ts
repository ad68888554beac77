import {
  constants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  verify as nodeVerify,
} from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CryptographyClient, type JsonWebKey, type KeyClient } from '@azure/keyvault-keys';
import {
  emulatorClientOptions,
  rawRequest,
  sdkClients,
  startTestEmulator,
  staticTestCredential,
  type TestEmulator,
} from '../../support/emulator';

const sha = (hash: string, data: Buffer) => createHash(hash).update(data).digest();
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** A node-generated key pair imported into the vault, so the test holds the private half to check interop. */
function localRsaKey() {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = pair.privateKey.export({ format: 'jwk' }) as Record<string, string>;
  const bytes = (member: string) => new Uint8Array(Buffer.from(jwk[member]!, 'base64url'));
  const sdkJwk: JsonWebKey = {
    kty: 'RSA',
    keyOps: ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'],
    ...Object.fromEntries(['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'].map((m) => [m, bytes(m)])),
  };
  return { pair, sdkJwk };
}

describe('emulator: key cryptographic operations with the unchanged CryptographyClient', () => {
  let emulator: TestEmulator;
  let keys: KeyClient;
  const crypto = (keyId: string) =>
    new CryptographyClient(keyId, staticTestCredential, emulatorClientOptions(emulator.caCertPem));
  const post = (path: string, body: unknown) =>
    rawRequest(emulator.url, emulator.caCertPem, `${path}?api-version=7.6`, {
      method: 'POST',
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    emulator = await startTestEmulator();
    keys = sdkClients(emulator.url, emulator.caCertPem).keys;
  });
  afterAll(() => emulator.stop());

  it('round-trips encrypt/decrypt and wrap/unwrap with every RSA algorithm, decrypting remotely', async () => {
    const key = await keys.createRsaKey('rsa-cipher', { keySize: 2048 });
    const client = crypto(key.id!);
    const plaintext = Buffer.from('kvguard data key 0123456789abcdef');
    for (const algorithm of ['RSA-OAEP', 'RSA-OAEP-256', 'RSA1_5'] as const) {
      const encrypted = await client.encrypt({ algorithm, plaintext });
      expect(encrypted.keyID).toBe(key.id);
      expect(Buffer.from((await client.decrypt({ algorithm, ciphertext: encrypted.result })).result)).toEqual(
        plaintext,
      );
      const wrapped = await client.wrapKey(algorithm, plaintext);
      expect(Buffer.from((await client.unwrapKey(algorithm, wrapped.result)).result)).toEqual(plaintext);
    }
  });

  it('encrypts and signs remotely in a way node:crypto accepts (imported key, private half held by the test)', async () => {
    const { pair, sdkJwk } = localRsaKey();
    const key = await keys.importKey('rsa-interop', sdkJwk);
    const client = crypto(key.id!);
    // RSA-OAEP-256 has no local provider in the SDK: this is the emulator's encrypt.
    const encrypted = await client.encrypt({ algorithm: 'RSA-OAEP-256', plaintext: Buffer.from('secret') });
    const decrypted = privateDecrypt(
      { key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      encrypted.result,
    );
    expect(decrypted.toString()).toBe('secret');
    const message = Buffer.from('catalog entry');
    for (const [algorithm, hash] of [
      ['RS256', 'sha256'],
      ['RS384', 'sha384'],
      ['RS512', 'sha512'],
      ['PS256', 'sha256'],
      ['PS384', 'sha384'],
      ['PS512', 'sha512'],
    ] as const) {
      const { result } = await client.sign(algorithm, sha(hash, message));
      const padding = algorithm.startsWith('PS') ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
      expect(nodeVerify(hash, message, { key: pair.publicKey, padding }, result), algorithm).toBe(true);
      expect((await client.verify(algorithm, sha(hash, message), result)).result).toBe(true);
      // verifyData runs locally in the SDK; 4.10.2 checks PS* there with PKCS#1 v1.5 padding, so only RS* can pass.
      if (algorithm.startsWith('RS')) expect((await client.verifyData(algorithm, message, result)).result).toBe(true);
      expect((await client.verify(algorithm, sha(hash, Buffer.from('other')), result)).result).toBe(false);
    }
  });

  it('signs and verifies with ES256, ES256K, ES384 and ES512 on their curves', async () => {
    const message = Buffer.from('event payload');
    for (const [curve, algorithm, hash, namedCurve] of [
      ['P-256', 'ES256', 'sha256', 'prime256v1'],
      ['P-256K', 'ES256K', 'sha256', 'secp256k1'],
      ['P-384', 'ES384', 'sha384', 'secp384r1'],
      ['P-521', 'ES512', 'sha512', 'secp521r1'],
    ] as const) {
      const key = await keys.createEcKey(`ec-${curve}`, { curve });
      const client = crypto(key.id!);
      const signed = await client.signData(algorithm, message);
      expect((await client.verifyData(algorithm, message, signed.result)).result, algorithm).toBe(true);
      expect((await client.verify(algorithm, sha(hash, Buffer.from('tampered')), signed.result)).result).toBe(false);
      const publicJwk = {
        kty: 'EC',
        crv: curve === 'P-256K' ? 'secp256k1' : curve,
        x: b64(key.key!.x!),
        y: b64(key.key!.y!),
      };
      const publicKey = createPublicKey({ key: publicJwk, format: 'jwk' });
      expect(nodeVerify(hash, message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signed.result), namedCurve).toBe(
        true,
      );
    }
  });

  it('uses the latest version when the key id has none, and answers KeyNotFound for an unknown version', async () => {
    const key = await keys.createRsaKey('rsa-latest', { keySize: 2048 });
    const versionless = crypto(`${emulator.url}keys/rsa-latest`);
    const encrypted = await crypto(key.id!).encrypt({ algorithm: 'RSA-OAEP-256', plaintext: Buffer.from('x') });
    expect(
      Buffer.from(
        (await versionless.decrypt({ algorithm: 'RSA-OAEP-256', ciphertext: encrypted.result })).result,
      ).toString(),
    ).toBe('x');
    const missing = await post('/keys/rsa-latest/00000000000000000000000000000000/sign', {
      alg: 'RS256',
      value: b64(sha('sha256', Buffer.from('x'))),
    });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: 'KeyNotFound' } });
  });

  it('refuses operations outside key_ops with 403 KeyOperationForbidden', async () => {
    await keys.createRsaKey('rsa-encrypt-only', { keySize: 2048, keyOps: ['encrypt'] });
    const answer = await post('/keys/rsa-encrypt-only/decrypt', { alg: 'RSA-OAEP', value: b64(Buffer.alloc(256, 1)) });
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({
      error: {
        code: 'Forbidden',
        message: 'Operation decrypt is not permitted on this key.',
        innererror: { code: 'KeyOperationForbidden' },
      },
    });
    expect((await post('/keys/rsa-encrypt-only/encrypt', { alg: 'RSA-OAEP', value: 'AQID' })).status).toBe(200);
  });

  it('blocks private-key operations on a disabled key and new-data operations outside nbf/exp', async () => {
    const digest = b64(sha('sha256', Buffer.from('x')));
    await keys.createRsaKey('rsa-disabled', { keySize: 2048 });
    await keys.updateKeyProperties('rsa-disabled', { enabled: false });
    const disabled = await post('/keys/rsa-disabled/sign', { alg: 'RS256', value: digest });
    expect(disabled.status).toBe(403);
    expect(disabled.body).toMatchObject({ error: { code: 'Forbidden', innererror: { code: 'KeyDisabled' } } });
    expect((await post('/keys/rsa-disabled/encrypt', { alg: 'RSA-OAEP', value: 'AQID' })).status).toBe(200);

    const soon = new Date(emulator.clock.now().getTime() + 3600_000);
    await keys.createRsaKey('rsa-later', { keySize: 2048, notBefore: soon });
    expect((await post('/keys/rsa-later/sign', { alg: 'RS256', value: digest })).status).toBe(403);
    const verified = await post('/keys/rsa-later/verify', { alg: 'RS256', digest, value: b64(Buffer.alloc(256)) });
    expect(verified).toMatchObject({ status: 200, body: { value: false } });

    await keys.createRsaKey('rsa-expiring', { keySize: 2048, expiresOn: soon });
    expect((await post('/keys/rsa-expiring/wrapkey', { alg: 'RSA-OAEP', value: 'AQID' })).status).toBe(200);
    emulator.clock.advance(2 * 3600_000);
    const expired = await post('/keys/rsa-expiring/wrapkey', { alg: 'RSA-OAEP', value: 'AQID' });
    expect(expired.status).toBe(403);
    expect(
      (await post('/keys/rsa-expiring/unwrapkey', { alg: 'RSA-OAEP', value: b64(Buffer.alloc(256, 1)) })).status,
    ).toBe(400);
  });

  it('answers 400 BadParameter for a wrong algorithm, bad base64, a wrong digest length or bad ciphertext', async () => {
    await keys.createRsaKey('rsa-bad', { keySize: 2048 });
    await keys.createEcKey('ec-bad', { curve: 'P-256', keyOps: ['sign', 'verify', 'encrypt'] });
    const expectBadParameter = async (path: string, body: unknown) => {
      const answer = await post(path, body);
      expect(answer.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'BadParameter' } });
      return (answer.body as { error: { message: string } }).error.message;
    };
    const digest = b64(sha('sha256', Buffer.from('x')));
    await expectBadParameter('/keys/rsa-bad/sign', { alg: 'ES256', value: digest });
    await expectBadParameter('/keys/rsa-bad/encrypt', { alg: 'A256GCM', value: 'AQID' });
    await expectBadParameter('/keys/ec-bad/encrypt', { alg: 'RSA-OAEP', value: 'AQID' });
    await expectBadParameter('/keys/ec-bad/sign', { alg: 'RS256', value: digest });
    expect(await expectBadParameter('/keys/ec-bad/sign', { alg: 'ES384', value: b64(Buffer.alloc(48)) })).toMatch(
      /^Key and signing algorithm are incompatible\. Key https:\/\/localhost:\d+\/keys\/ec-bad\/[0-9a-f]{32} uses curve 'P-256', and algorithm 'ES384' can only be used with curve 'P-384'\.$/,
    );
    expect(await expectBadParameter('/keys/rsa-bad/sign', { alg: 'RS256', value: b64(Buffer.alloc(10)) })).toBe(
      "Invalid length of 'value': 10 bytes. RS256 requires 32 bytes, encoded with base64url.",
    );
    await expectBadParameter('/keys/rsa-bad/verify', { alg: 'RS256', digest: b64(Buffer.alloc(20)), value: 'AQID' });
    await expectBadParameter('/keys/rsa-bad/sign', { alg: 'RS256', value: 'not base64!' });
    await expectBadParameter('/keys/rsa-bad/sign', { alg: 'RS256' });
    await expectBadParameter('/keys/rsa-bad/sign', { value: digest });
    await expectBadParameter('/keys/rsa-bad/encrypt', { alg: 'RSA-OAEP', value: b64(Buffer.alloc(300)) });
    for (const alg of ['RSA-OAEP', 'RSA-OAEP-256', 'RSA1_5']) {
      await expectBadParameter('/keys/rsa-bad/decrypt', { alg, value: b64(Buffer.alloc(256, 7)) });
      await expectBadParameter('/keys/rsa-bad/decrypt', { alg, value: b64(Buffer.alloc(3)) });
    }
    expect(
      (await rawRequest(emulator.url, emulator.caCertPem, '/keys/rsa-bad/sign?api-version=7.6', { method: 'POST' }))
        .status,
    ).toBe(400);
  });

  it('surfaces a service refusal on the remote path as a RestError', async () => {
    const key = await keys.createRsaKey('rsa-sdk-error', { keySize: 2048 });
    const error = await crypto(key.id!)
      .sign('RS256', new Uint8Array(10))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'RestError', statusCode: 400, code: 'BadParameter' });
  });

  it('returns random bytes through KeyClient.getRandomBytes and refuses a count outside 1..128', async () => {
    const bytes = await keys.getRandomBytes(16);
    expect(bytes).toHaveLength(16);
    expect(await keys.getRandomBytes(128)).toHaveLength(128);
    for (const count of [0, 129, 1.5, 'eight', null]) {
      const answer = await post('/rng', { count });
      expect(answer.status, String(count)).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'BadParameter' } });
    }
  });

  it('counts key operations against the vault throttle', async () => {
    await keys.createRsaKey('rsa-throttled', { keySize: 2048 });
    emulator.configure({ throttle: { operations: 1, windowSeconds: 10, retryAfter: 'never' } });
    try {
      expect((await post('/keys/rsa-throttled/encrypt', { alg: 'RSA-OAEP', value: 'AQID' })).status).toBe(200);
      const second = await post('/keys/rsa-throttled/encrypt', { alg: 'RSA-OAEP', value: 'AQID' });
      expect(second.status).toBe(429);
      expect((await post('/rng', { count: 4 })).status).toBe(429);
    } finally {
      emulator.configure({ throttle: { operations: 4000, windowSeconds: 10 } });
    }
  });
});
