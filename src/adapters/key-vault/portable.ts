/**
 * What portable exports need from Key Vault, on the SDK clients and through the run's {@link RetryingCaller}: secret
 * values (a certificate's is the secret of the same name and version), new secret and certificate versions, and the
 * KEK's `wrapKey`/`unwrapKey` (RSA-OAEP-256) on a {@link CryptographyClient}. Values are returned to the caller and
 * never logged here; error messages name objects and versions only.
 */
import type { CertificateClient, CertificatePolicy } from '@azure/keyvault-certificates';
import { CryptographyClient, parseKeyVaultKeyIdentifier, type KeyClient } from '@azure/keyvault-keys';
import type { SecretClient } from '@azure/keyvault-secrets';
import { KvGuardError } from '../../core/errors';
import type { KeyWrapper, VaultMaterial, VersionAttributes } from '../../core/ports';
import type { RetryingCaller } from './retrying-caller';

/** The wrap algorithm of portable exports: RSA-OAEP with SHA-256. */
const WRAP_ALGORITHM = 'RSA-OAEP-256';

/** {@link VaultMaterial} of one vault for one run. */
export class KeyVaultMaterial implements VaultMaterial {
  readonly name: string;

  /** @param parts - vault name, its secret and certificate clients, the run's caller */
  constructor(
    private readonly parts: {
      name: string;
      secrets: SecretClient;
      certificates: CertificateClient;
      caller: RetryingCaller;
    },
  ) {
    this.name = parts.name;
  }

  /** One secret version's value and content type. */
  async secretValue(name: string, version: string): Promise<{ value: string; contentType?: string }> {
    const secret = await this.parts.caller.call(`get secret ${name} version ${version}`, (abortSignal) =>
      this.parts.secrets.getSecret(name, { version, abortSignal }),
    );
    if (secret.value === undefined)
      throw new KvGuardError('Internal', `secret ${name} version ${version} came back without a value`);
    return {
      value: secret.value,
      ...(secret.properties.contentType ? { contentType: secret.properties.contentType } : {}),
    };
  }

  /** Adds a secret version; answers its version id. */
  async setSecret(name: string, value: string, attributes: VersionAttributes): Promise<{ version: string }> {
    const secret = await this.parts.caller.call(`set secret ${name}`, (abortSignal) =>
      this.parts.secrets.setSecret(name, value, {
        abortSignal,
        enabled: attributes.enabled,
        // A version without tags has none (not an empty map) in Key Vault's answers: send none.
        ...(Object.keys(attributes.tags).length > 0 ? { tags: attributes.tags } : {}),
        ...(attributes.contentType ? { contentType: attributes.contentType } : {}),
        ...(attributes.expiresOn ? { expiresOn: attributes.expiresOn } : {}),
        ...(attributes.notBefore ? { notBefore: attributes.notBefore } : {}),
      }),
    );
    return { version: secret.properties.version ?? '' };
  }

  /** Imports a certificate version from PKCS#12 (base64) or PEM text. */
  async importCertificate(
    name: string,
    value: string,
    options: { contentType: string; policy?: unknown; enabled: boolean; tags: Record<string, string> },
  ): Promise<{ version: string }> {
    const pem = options.contentType === 'application/x-pem-file';
    // The SDK sends PEM bytes as text and anything else base64-encoded: give it the bytes each one stands for.
    const bytes = pem ? Buffer.from(value, 'utf8') : Buffer.from(value, 'base64');
    const policy = { ...importablePolicy(options.policy), contentType: options.contentType } as CertificatePolicy;
    const { certificates, caller } = this.parts;
    const certificate = await caller.call(`import certificate ${name}`, (abortSignal) =>
      certificates.importCertificate(name, bytes, {
        abortSignal,
        policy,
        ...(Object.keys(options.tags).length > 0 ? { tags: options.tags } : {}),
      }),
    );
    const version = certificate.properties.version ?? '';
    // The SDK (4.10) serializes neither `policy` nor `enabled` of an import: both are set by their own calls.
    if (options.policy !== undefined)
      await caller.call(`update policy of certificate ${name}`, (abortSignal) =>
        certificates.updateCertificatePolicy(name, policy, { abortSignal }),
      );
    if (!options.enabled)
      await caller.call(`disable certificate ${name} version ${version}`, (abortSignal) =>
        certificates.updateCertificateProperties(name, version, { enabled: false, abortSignal }),
      );
    return { version };
  }
}

/** The writable fields of a stored certificate policy (its read-only times and id are the source vault's). */
function importablePolicy(policy: unknown): Record<string, unknown> {
  if (policy === null || typeof policy !== 'object') return { issuerName: 'Unknown' };
  const { createdOn: _c, updatedOn: _u, id: _id, ...rest } = policy as Record<string, unknown>;
  return rest;
}

/** The KEK on Key Vault: its current version is read once per run, wrap and unwrap go to the service. */
export class KeyVaultKeyWrapper implements KeyWrapper {
  private current?: Promise<string>;
  private readonly clients = new Map<string, CryptographyClient>();

  /**
   * @param parts - the KEK's key id, the KEK vault's key client, a factory of cryptography clients for a key id,
   * and the run's caller on the KEK vault
   */
  constructor(
    private readonly parts: {
      keyId: string;
      keys: KeyClient;
      cryptography: (keyId: string) => CryptographyClient;
      caller: RetryingCaller;
    },
  ) {}

  /** The KEK's current versioned id; refuses a key that may not wrap and unwrap. */
  currentKeyId(): Promise<string> {
    this.current ??= this.readCurrent().catch((error: unknown) => {
      this.current = undefined;
      throw error;
    });
    return this.current;
  }

  /** Wraps under the current version. */
  async wrap(dataKey: Uint8Array): Promise<{ keyId: string; wrappedKey: Uint8Array }> {
    const keyId = await this.currentKeyId();
    const result = await this.parts.caller.call(`wrap a data key with ${keyId}`, (abortSignal) =>
      this.cryptography(keyId).wrapKey(WRAP_ALGORITHM, dataKey, { abortSignal }),
    );
    return { keyId: result.keyID ?? keyId, wrappedKey: result.result };
  }

  /** Unwraps with the version that wrapped. */
  async unwrap(keyId: string, wrappedKey: Uint8Array): Promise<Uint8Array> {
    const result = await this.parts.caller.call(`unwrap a data key with ${keyId}`, (abortSignal) =>
      this.cryptography(keyId).unwrapKey(WRAP_ALGORITHM, wrappedKey, { abortSignal }),
    );
    return result.result;
  }

  private async readCurrent(): Promise<string> {
    const { name, version } = parseKeyVaultKeyIdentifier(this.parts.keyId);
    const key = await this.parts.caller.call(`get key-encryption key ${this.parts.keyId}`, (abortSignal) =>
      this.parts.keys.getKey(name, { ...(version ? { version } : {}), abortSignal }),
    );
    const operations = key.keyOperations ?? [];
    if (!key.id || !operations.includes('wrapKey') || !operations.includes('unwrapKey')) {
      throw new KvGuardError(
        'InvalidConfiguration',
        `KVGUARD_PORTABLE_KEK ${this.parts.keyId} must be an RSA key that allows wrapKey and unwrapKey (it allows: ${operations.join(', ') || 'nothing'})`,
        { field: 'KVGUARD_PORTABLE_KEK' },
      );
    }
    return key.id;
  }

  private cryptography(keyId: string): CryptographyClient {
    let client = this.clients.get(keyId);
    if (!client) {
      client = this.parts.cryptography(keyId);
      this.clients.set(keyId, client);
    }
    return client;
  }
}
