/**
 * Signatures over a digest the client already computed, as Key Vault's sign/verify take them. node:crypto only signs
 * messages (it hashes them itself): ECDSA comes from @noble/curves, RSASSA-PSS encoding is done here from RFC 8017
 * §9.1 over node's raw RSA. Nothing here needs to be constant-time: it serves a local emulator, never real secrets.
 */
import {
  constants,
  createHash,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import type { CurveFn } from '@noble/curves/abstract/weierstrass';
import { p256, p384, p521 } from '@noble/curves/nist';
import { secp256k1 } from '@noble/curves/secp256k1';

/** The hashes Key Vault's signature algorithms use. */
export type DigestName = 'sha256' | 'sha384' | 'sha512';

/** Byte length of each digest: the only lengths sign/verify accept. */
export const DIGEST_LENGTH: Record<DigestName, number> = { sha256: 32, sha384: 48, sha512: 64 };

// DER DigestInfo headers (RFC 8017 §9.2 note 1) that RSASSA-PKCS1-v1_5 puts before the digest.
const DIGEST_INFO: Record<DigestName, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

/** RSASSA-PKCS1-v1_5 signature of a digest (RS256/384/512). */
export function rsaPkcs1Sign(privateKey: KeyObject, hash: DigestName, digest: Buffer): Buffer {
  const encoded = Buffer.concat([Buffer.from(DIGEST_INFO[hash], 'hex'), digest]);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, encoded);
}

/** Checks an RSASSA-PKCS1-v1_5 signature of a digest. */
export function rsaPkcs1Verify(publicKey: KeyObject, hash: DigestName, digest: Buffer, signature: Buffer): boolean {
  try {
    const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    return sameBytes(recovered, Buffer.concat([Buffer.from(DIGEST_INFO[hash], 'hex'), digest]));
  } catch {
    return false;
  }
}

function mgf1(hash: DigestName, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * DIGEST_LENGTH[hash] < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function xor(a: Buffer, b: Buffer): Buffer {
  return Buffer.from(a.map((byte, index) => byte ^ b[index]!));
}

function pssHash(hash: DigestName, digest: Buffer, salt: Buffer): Buffer {
  return createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
}

/** RSASSA-PSS signature of a digest (PS256/384/512), salt as long as the hash as RFC 7518 §3.5 requires. */
export function rsaPssSign(privateKey: KeyObject, hash: DigestName, digest: Buffer): Buffer {
  const modulusBits = privateKey.asymmetricKeyDetails?.modulusLength ?? 2048;
  const k = Math.ceil(modulusBits / 8);
  const emLen = Math.ceil((modulusBits - 1) / 8);
  const hLen = DIGEST_LENGTH[hash];
  const salt = randomBytes(hLen);
  const h = pssHash(hash, digest, salt);
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([1]), salt]);
  const maskedDb = xor(db, mgf1(hash, h, emLen - hLen - 1));
  maskedDb[0] = maskedDb[0]! & (0xff >> (8 * emLen - (modulusBits - 1)));
  const em = Buffer.concat([Buffer.alloc(k - emLen), maskedDb, h, Buffer.from([0xbc])]);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, em);
}

/** Checks an RSASSA-PSS signature of a digest (salt length = hash length). */
export function rsaPssVerify(publicKey: KeyObject, hash: DigestName, digest: Buffer, signature: Buffer): boolean {
  const modulusBits = publicKey.asymmetricKeyDetails?.modulusLength ?? 2048;
  const emLen = Math.ceil((modulusBits - 1) / 8);
  const hLen = DIGEST_LENGTH[hash];
  let em: Buffer;
  try {
    const raw = publicDecrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
    em = raw.subarray(raw.length - emLen);
  } catch {
    return false;
  }
  if (em.at(-1) !== 0xbc) return false;
  const topMask = 0xff >> (8 * emLen - (modulusBits - 1));
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  if ((maskedDb[0]! & ~topMask) !== 0) return false;
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const db = xor(maskedDb, mgf1(hash, h, maskedDb.length));
  db[0] = db[0]! & topMask;
  const separator = emLen - 2 * hLen - 2;
  if (db.subarray(0, separator).some((byte) => byte !== 0) || db[separator] !== 1) return false;
  return sameBytes(pssHash(hash, digest, db.subarray(separator + 1)), h);
}

/** Key Vault's curve names and the @noble/curves implementations (audited; node:crypto cannot sign a digest). */
const CURVES: Record<string, CurveFn> = { 'P-256': p256, 'P-384': p384, 'P-521': p521, 'P-256K': secp256k1 };

function curveOf(crv: string): CurveFn {
  const curve = CURVES[crv];
  if (!curve) throw new RangeError(`unsupported curve ${crv}`);
  return curve;
}

/** ECDSA signature of a digest as Key Vault returns it: r‖s, each as long as the curve order. */
export function ecdsaSign(crv: string, jwk: Record<string, unknown>, digest: Buffer): Buffer {
  const privateKey = Buffer.from(String(jwk['d']), 'base64url');
  return Buffer.from(curveOf(crv).sign(digest, privateKey, { prehash: false }).toCompactRawBytes());
}

/** Checks an r‖s ECDSA signature of a digest against the key's public point (any valid s, as the service does). */
export function ecdsaVerify(crv: string, jwk: Record<string, unknown>, digest: Buffer, signature: Buffer): boolean {
  const curve = curveOf(crv);
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(String(jwk['x']), 'base64url'),
    Buffer.from(String(jwk['y']), 'base64url'),
  ]);
  try {
    return curve.verify(signature, digest, point, { prehash: false, lowS: false });
  } catch {
    return false;
  }
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
