/**
 * Entra ID bearer tokens, checked by kvguard itself with `jose` against the tenant's published signing keys: the
 * signature (RS256 only), the issuer (the tenant's v1 or v2 issuer), the audience (kvguard's app registration) and
 * the lifetime. Nothing a caller sends is trusted without that check — in particular not `x-ms-client-principal`,
 * which is only as good as the platform's guarantee that it stripped a client-sent copy.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { KvGuardError } from '../core/errors';
import type { PrincipalVerifier, VerifiedPrincipal } from '../core/ports';

/** What identifies the tokens kvguard accepts. */
export interface EntraTokenOptions {
  tenantId: string;
  /** Accepted `aud` values: the app registration's client id and/or App ID URI. */
  audiences: string[];
  /** Where the tenant's signing keys are; defaults to the tenant's Entra ID discovery keys. */
  jwksUrl?: string;
  /** Signing keys to use instead of fetching them (tests with a local key set). */
  keys?: JWTVerifyGetKey;
  /** Seconds of clock skew tolerated on `exp` / `nbf` (default 60). */
  clockToleranceSeconds?: number;
}

/** Claims that name the caller, in order of preference (users, then applications, then the bare object id). */
const NAME_CLAIMS = ['preferred_username', 'upn', 'unique_name', 'name', 'azp', 'appid', 'oid', 'sub'] as const;

/** The Entra ID issuers of a tenant: v2.0 and v1 access tokens. */
export function entraIssuers(tenantId: string): string[] {
  return [`https://login.microsoftonline.com/${tenantId}/v2.0`, `https://sts.windows.net/${tenantId}/`];
}

/**
 * A {@link PrincipalVerifier} for one tenant and audience.
 * @param options - tenant, audiences, and where the signing keys are
 */
export function createEntraTokenVerifier(options: EntraTokenOptions): PrincipalVerifier {
  const keys =
    options.keys ??
    createRemoteJWKSet(
      new URL(options.jwksUrl ?? `https://login.microsoftonline.com/${options.tenantId}/discovery/v2.0/keys`),
      { timeoutDuration: 5_000, cooldownDuration: 30_000 },
    );
  const issuers = entraIssuers(options.tenantId);
  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: issuers,
          audience: options.audiences,
          algorithms: ['RS256'],
          clockTolerance: options.clockToleranceSeconds ?? 60,
          requiredClaims: ['exp'],
        }));
      } catch (error) {
        if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError)) {
          throw new KvGuardError('Transient', "The tenant's token signing keys could not be fetched; try again", {
            cause: error,
          });
        }
        throw new KvGuardError('Unauthorized', `The bearer token was refused: ${refusalReason(error)}`, {
          field: 'authorization',
          cause: error,
        });
      }
      return principalOf(payload);
    },
  };
}

function principalOf(payload: JWTPayload): VerifiedPrincipal {
  const claim = (name: string) => {
    const value = payload[name];
    return typeof value === 'string' && value.trim() !== '' ? value : undefined;
  };
  const roles = Array.isArray(payload['roles'])
    ? payload['roles'].filter((r): r is string => typeof r === 'string')
    : [];
  const name = NAME_CLAIMS.map(claim).find((v) => v !== undefined) ?? 'unnamed principal';
  const objectId = claim('oid');
  return { name, roles, ...(objectId ? { objectId } : {}) };
}

/** Why jose refused a token, in words that name the failed check and never quote the token. */
function refusalReason(error: errors.JOSEError): string {
  if (error instanceof errors.JWTExpired) return 'it has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `its ${error.claim} claim is not accepted (${error.reason})`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (error instanceof errors.JWKSNoMatchingKey) return 'it is not signed by a key of the tenant';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'its signing algorithm is not RS256';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'it is not a well-formed JWT';
  return `it could not be checked (${error.code})`;
}
