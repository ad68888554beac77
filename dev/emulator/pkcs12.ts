/**
 * PKCS#12 (PFX) files as Key Vault stores a certificate's secret (`application/x-pkcs12`): one key bag and one
 * certificate bag, no password, a SHA-256 MAC. Built with pkijs, which (unlike node-forge) carries EC keys too.
 */
import { webcrypto } from 'node:crypto';
import * as pkijs from 'pkijs';

const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto });

/** OIDs of the two bag types (RFC 7292 §4.2). */
const KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const CERT_BAG = '1.2.840.113549.1.12.10.1.3';

/**
 * A password-less PKCS#12 file holding a private key (when given) and its certificate.
 * @param certificateDer - the certificate (DER)
 * @param privateKeyPkcs8 - the private key (PKCS#8 DER); absent for a certificate whose key is not exportable
 */
export async function pkcs12(certificateDer: Buffer, privateKeyPkcs8?: Buffer): Promise<Buffer> {
  const safeContents = new pkijs.SafeContents({
    safeBags: [
      // Without a key (a non-exportable certificate's secret) the file carries the certificate alone.
      ...(privateKeyPkcs8
        ? [new pkijs.SafeBag({ bagId: KEY_BAG, bagValue: pkijs.KeyBag.fromBER(toArrayBuffer(privateKeyPkcs8)) })]
        : []),
      new pkijs.SafeBag({
        bagId: CERT_BAG,
        bagValue: new pkijs.CertBag({ parsedValue: pkijs.Certificate.fromBER(toArrayBuffer(certificateDer)) }),
      }),
    ],
  });
  const pfx = new pkijs.PFX({
    parsedValue: {
      integrityMode: 0,
      authenticatedSafe: new pkijs.AuthenticatedSafe({
        parsedValue: { safeContents: [{ privacyMode: 0, value: safeContents }] },
      }),
    },
  });
  await pfx.parsedValue!.authenticatedSafe!.makeInternalValues({ safeContents: [{}] }, engine);
  await pfx.makeInternalValues(
    { password: new ArrayBuffer(0), iterations: 2048, pbkdf2HashAlgorithm: 'SHA-256', hmacHashAlgorithm: 'SHA-256' },
    engine,
  );
  return Buffer.from(pfx.toSchema().toBER(false));
}

function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** What a PKCS#12 file holds: its first certificate and, when present, its private key. */
export interface Pkcs12Contents {
  certificateDer: Buffer;
  privateKeyPkcs8?: Buffer;
}

/**
 * Reads a password-less (or empty-password) PKCS#12 file, as Key Vault's import accepts it without `pwd`: the first
 * certificate bag and the first key bag. Throws on anything else (the caller answers 400).
 * @param bytes - the PFX file (DER)
 */
export async function readPkcs12(bytes: Buffer): Promise<Pkcs12Contents> {
  const pfx = pkijs.PFX.fromBER(toArrayBuffer(bytes));
  await pfx.parseInternalValues({ password: new ArrayBuffer(0), checkIntegrity: false }, engine);
  const safe = pfx.parsedValue?.authenticatedSafe;
  if (!safe) throw new Error('the PKCS#12 file holds no authenticated safe');
  await safe.parseInternalValues(
    { safeContents: safe.safeContents.map(() => ({ password: new ArrayBuffer(0) })) },
    engine,
  );
  let certificateDer: Buffer | undefined;
  let privateKeyPkcs8: Buffer | undefined;
  const parsedValue = safe.parsedValue as { safeContents?: { value: pkijs.SafeContents }[] } | undefined;
  const parsedContents = parsedValue?.safeContents ?? [];
  for (const contents of parsedContents) {
    for (const bag of contents.value.safeBags) {
      if (bag.bagId === CERT_BAG && !certificateDer) {
        const parsed = (bag.bagValue as pkijs.CertBag).parsedValue as pkijs.Certificate;
        certificateDer = Buffer.from(parsed.toSchema().toBER(false));
      } else if (bag.bagId === KEY_BAG && !privateKeyPkcs8) {
        privateKeyPkcs8 = Buffer.from((bag.bagValue as pkijs.KeyBag).toSchema().toBER(false));
      }
    }
  }
  if (!certificateDer) throw new Error('the PKCS#12 file holds no certificate');
  return { certificateDer, ...(privateKeyPkcs8 ? { privateKeyPkcs8 } : {}) };
}
