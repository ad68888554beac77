/**
 * Signatures over a digest the client already computed, as Key Vault's sign/verify take them. node:crypto only signs
 * messages (it hashes them itself), so RSASSA-PSS encoding and ECDSA are done here from RFC 8017 §9.1 and SEC 1 §4.1.
 * Nothing here is constant-time: it serves a local emulator, never real secrets.
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

interface Curve {
  p: bigint;
  a: bigint;
  n: bigint;
  g: Point;
}
type Point = { x: bigint; y: bigint; z: bigint } | null;

/** Curve parameters (SEC 2 / FIPS 186-4) under Key Vault's curve names. */
const CURVES: Record<string, Curve> = {
  'P-256': curve(
    'ffffffff00000001000000000000000000000000ffffffffffffffffffffffff',
    'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551',
    '6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296',
    '4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5',
  ),
  'P-384': curve(
    'fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff',
    'ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
    'aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7',
    '3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f',
  ),
  'P-521': curve(
    '1' + 'f'.repeat(130),
    '1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409',
    'c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66',
    '11839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650',
  ),
  'P-256K': curve(
    'fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f',
    'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141',
    '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798',
    '483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8',
    0n,
  ),
};

function curve(p: string, n: string, gx: string, gy: string, a?: bigint): Curve {
  const prime = BigInt(`0x${p}`);
  return {
    p: prime,
    a: a ?? prime - 3n,
    n: BigInt(`0x${n}`),
    g: { x: BigInt(`0x${gx}`), y: BigInt(`0x${gy}`), z: 1n },
  };
}

const mod = (value: bigint, m: bigint) => ((value % m) + m) % m;

function modPow(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}

const inverse = (value: bigint, prime: bigint) => modPow(value, prime - 2n, prime);

// Jacobian coordinates keep inversions out of the loop.
function double(c: Curve, pt: Point): Point {
  if (!pt || pt.y === 0n) return null;
  const { p } = c;
  const yy = (pt.y * pt.y) % p;
  const s = mod(4n * pt.x * yy, p);
  const zz = (pt.z * pt.z) % p;
  const m = mod(3n * pt.x * pt.x + c.a * zz * zz, p);
  const x = mod(m * m - 2n * s, p);
  return { x, y: mod(m * (s - x) - 8n * yy * yy, p), z: mod(2n * pt.y * pt.z, p) };
}

function add(c: Curve, a: Point, b: Point): Point {
  if (!a) return b;
  if (!b) return a;
  const { p } = c;
  const za2 = (a.z * a.z) % p;
  const zb2 = (b.z * b.z) % p;
  const u1 = (a.x * zb2) % p;
  const u2 = (b.x * za2) % p;
  const s1 = (a.y * zb2 * b.z) % p;
  const s2 = (b.y * za2 * a.z) % p;
  if (u1 === u2) return s1 === s2 ? double(c, a) : null;
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const h2 = (h * h) % p;
  const h3 = (h2 * h) % p;
  const x = mod(r * r - h3 - 2n * u1 * h2, p);
  return { x, y: mod(r * (u1 * h2 - x) - s1 * h3, p), z: (h * a.z * b.z) % p };
}

function multiply(c: Curve, scalar: bigint, pt: Point): Point {
  let result: Point = null;
  for (let bit = BigInt(scalar.toString(2).length - 1); bit >= 0n; bit--) {
    result = double(c, result);
    if ((scalar >> bit) & 1n) result = add(c, result, pt);
  }
  return result;
}

function affineX(c: Curve, pt: Point): bigint | undefined {
  if (!pt) return undefined;
  const zInv = inverse(pt.z, c.p);
  return (pt.x * zInv * zInv) % c.p;
}

const toBigInt = (bytes: Buffer) => (bytes.length ? BigInt(`0x${bytes.toString('hex')}`) : 0n);
const fieldBytes = (c: Curve) => Math.ceil(c.n.toString(2).length / 8);
const toBytes = (value: bigint, length: number) => Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');

function digestScalar(c: Curve, digest: Buffer): bigint {
  const excess = digest.length * 8 - c.n.toString(2).length;
  return excess > 0 ? toBigInt(digest) >> BigInt(excess) : toBigInt(digest);
}

/** ECDSA signature of a digest as Key Vault returns it: r‖s, each as long as the curve order. */
export function ecdsaSign(crv: string, jwk: Record<string, unknown>, digest: Buffer): Buffer {
  const c = CURVES[crv]!;
  const d = toBigInt(Buffer.from(String(jwk['d']), 'base64url'));
  const z = digestScalar(c, digest);
  for (;;) {
    const k = mod(toBigInt(randomBytes(fieldBytes(c) + 8)), c.n - 1n) + 1n;
    const r = mod(affineX(c, multiply(c, k, c.g)) ?? 0n, c.n);
    const s = mod(inverse(k, c.n) * (z + r * d), c.n);
    if (r !== 0n && s !== 0n) return Buffer.concat([toBytes(r, fieldBytes(c)), toBytes(s, fieldBytes(c))]);
  }
}

/** Checks an r‖s ECDSA signature of a digest against the key's public point. */
export function ecdsaVerify(crv: string, jwk: Record<string, unknown>, digest: Buffer, signature: Buffer): boolean {
  const c = CURVES[crv]!;
  const size = fieldBytes(c);
  if (signature.length !== 2 * size) return false;
  const r = toBigInt(signature.subarray(0, size));
  const s = toBigInt(signature.subarray(size));
  if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
  const q: Point = {
    x: toBigInt(Buffer.from(String(jwk['x']), 'base64url')),
    y: toBigInt(Buffer.from(String(jwk['y']), 'base64url')),
    z: 1n,
  };
  const w = inverse(s, c.n);
  const point = add(c, multiply(c, mod(digestScalar(c, digest) * w, c.n), c.g), multiply(c, mod(r * w, c.n), q));
  const x = affineX(c, point);
  return x !== undefined && mod(x, c.n) === r;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
