/** X.509 building blocks shared by the emulator's TLS set-up and its certificate objects (via @peculiar/x509). */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Subject alternative names for a certificate. */
export interface SubjectNames {
  dns?: string[];
  ips?: string[];
  emails?: string[];
}

/** What to issue: subject, validity, usage and who signs (self when `issuer` is absent). */
export interface IssueRequest {
  subject: string;
  keys: CryptoKeyPair;
  notBefore: Date;
  notAfter: Date;
  isCa?: boolean;
  names?: SubjectNames;
  keyUsages?: x509.KeyUsageFlags;
  extendedKeyUsages?: string[];
  issuer?: { certificate: x509.X509Certificate; privateKey: CryptoKey };
}

/** WebCrypto algorithm for an RSA (PKCS#1 v1.5, SHA-256) or ECDSA key of the given shape. */
export function signingAlgorithm(
  kty: 'RSA' | 'EC',
  sizeOrCurve: number | string,
): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  if (kty === 'RSA') {
    return {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: Number(sizeOrCurve),
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    };
  }
  return { name: 'ECDSA', namedCurve: String(sizeOrCurve) };
}

/** Generates an extractable key pair for signing certificates. */
export async function generateSigningKeys(kty: 'RSA' | 'EC', sizeOrCurve: number | string): Promise<CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(signingAlgorithm(kty, sizeOrCurve), true, ['sign', 'verify']);
}

function hashFor(key: CryptoKey): webcrypto.Algorithm | webcrypto.EcdsaParams {
  if (key.algorithm.name === 'ECDSA') {
    const curve = (key.algorithm as webcrypto.EcKeyAlgorithm).namedCurve;
    const hash = curve === 'P-384' ? 'SHA-384' : curve === 'P-521' ? 'SHA-512' : 'SHA-256';
    return { name: 'ECDSA', hash };
  }
  return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

function extensionsFor(request: IssueRequest): x509.Extension[] {
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(request.isCa ?? false, undefined, true)];
  if (request.keyUsages !== undefined) extensions.push(new x509.KeyUsagesExtension(request.keyUsages, true));
  if (request.extendedKeyUsages?.length) {
    extensions.push(new x509.ExtendedKeyUsageExtension(request.extendedKeyUsages, false));
  }
  const names: x509.JsonGeneralNames = [
    ...(request.names?.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(request.names?.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(request.names?.emails ?? []).map((value) => ({ type: 'email' as const, value })),
  ];
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  return extensions;
}

/** Issues a certificate: self-signed, or signed by `request.issuer`. */
export async function issueCertificate(request: IssueRequest): Promise<x509.X509Certificate> {
  const signer = request.issuer?.privateKey ?? request.keys.privateKey;
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: request.subject,
    issuer: request.issuer ? request.issuer.certificate.subject : request.subject,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    publicKey: request.keys.publicKey,
    signingKey: signer,
    signingAlgorithm: hashFor(signer),
    extensions: extensionsFor(request),
  });
}

/** A CSR for the key pair, as Key Vault shows in a pending certificate operation. */
export async function certificateSigningRequest(subject: string, keys: CryptoKeyPair): Promise<Buffer> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys,
    signingAlgorithm: hashFor(keys.privateKey),
  });
  return Buffer.from(csr.rawData);
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER
  return Buffer.from(bytes).toString('hex');
}

/** PEM of a private key exported as PKCS#8. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const body =
    der
      .toString('base64')
      .match(/.{1,64}/g)
      ?.join('\n') ?? '';
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

export { x509 };
export type { CryptoKey, CryptoKeyPair };
