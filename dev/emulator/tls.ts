/**
 * The emulator's TLS material: a local CA and a localhost server certificate signed by it, generated once in the
 * data folder and reused so clients can keep trusting the same CA file across restarts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateSigningKeys, issueCertificate, privateKeyPem, x509 } from './x509';

/** Paths and PEMs the HTTPS servers and the clients need. */
export interface TlsMaterial {
  caCertPath: string;
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;
const SERVER_NAMES = { dns: ['localhost'], ips: ['127.0.0.1', '::1'] };

/** Loads the CA and server certificate from `dataDir`, creating them at first start. */
export async function ensureTlsMaterial(dataDir: string): Promise<TlsMaterial> {
  mkdirSync(dataDir, { recursive: true });
  const caCertPath = join(dataDir, 'emulator-ca.pem');
  const caKeyPath = join(dataDir, 'emulator-ca.key');
  const serverCertPath = join(dataDir, 'emulator-server.pem');
  const serverKeyPath = join(dataDir, 'emulator-server.key');
  if (![caCertPath, caKeyPath, serverCertPath, serverKeyPath].every((path) => existsSync(path))) {
    await createTlsMaterial({ caCertPath, caKeyPath, serverCertPath, serverKeyPath });
  }
  return {
    caCertPath,
    caCertPem: readFileSync(caCertPath, 'utf8'),
    serverCertPem: readFileSync(serverCertPath, 'utf8'),
    serverKeyPem: readFileSync(serverKeyPath, 'utf8'),
  };
}

async function createTlsMaterial(paths: {
  caCertPath: string;
  caKeyPath: string;
  serverCertPath: string;
  serverKeyPath: string;
}): Promise<void> {
  const notBefore = new Date(Date.now() - 60_000);
  const caKeys = await generateSigningKeys('EC', 'P-256');
  const ca = await issueCertificate({
    subject: 'CN=kvguard Key Vault emulator CA',
    keys: caKeys,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 10 * YEAR_MS),
    isCa: true,
    keyUsages: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
  });
  const serverKeys = await generateSigningKeys('EC', 'P-256');
  const server = await issueCertificate({
    subject: 'CN=localhost',
    keys: serverKeys,
    notBefore,
    // Node refuses leaf certificates valid for more than ~825 days on some platforms; keep it short and renewable.
    notAfter: new Date(notBefore.getTime() + 2 * YEAR_MS),
    names: SERVER_NAMES,
    keyUsages: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
    extendedKeyUsages: ['1.3.6.1.5.5.7.3.1'],
    issuer: { certificate: ca, privateKey: caKeys.privateKey },
  });
  writeFileSync(paths.caCertPath, ca.toString('pem') + '\n');
  writeFileSync(paths.caKeyPath, await privateKeyPem(caKeys.privateKey), { mode: 0o600 });
  writeFileSync(paths.serverCertPath, server.toString('pem') + '\n');
  writeFileSync(paths.serverKeyPath, await privateKeyPem(serverKeys.privateKey), { mode: 0o600 });
}

/** The emulator's backup master key (AES-256), created at first start next to the CA. */
export function ensureMasterKey(dataDir: string): Buffer {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'backup-master.key');
  if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600 });
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
}
