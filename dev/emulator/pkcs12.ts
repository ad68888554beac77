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
 * A password-less PKCS#12 file holding a private key and its certificate.
 * @param certificateDer - the certificate (DER)
 * @param privateKeyPkcs8 - the private key (PKCS#8 DER)
 */
export async function pkcs12(certificateDer: Buffer, privateKeyPkcs8: Buffer): Promise<Buffer> {
  const safeContents = new pkijs.SafeContents({
    safeBags: [
      new pkijs.SafeBag({ bagId: KEY_BAG, bagValue: pkijs.KeyBag.fromBER(toArrayBuffer(privateKeyPkcs8)) }),
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
