/**
 * A local stand-in for the two Azure answers vault discovery depends on, served over HTTPS with the emulator's
 * certificate so unchanged SDK clients trust it:
 * - Azure Resource Manager's `GET /subscriptions/{id}/providers/Microsoft.KeyVault/vaults` (paged with an absolute
 *   `nextLink`, as ARM pages; 403 `AuthorizationFailed` for a subscription the caller may not read);
 * - a Key Vault that answers the SDK's challenge and then 403 `ForbiddenByRbac` to everything: a vault kvguard can
 *   see in ARM but not read.
 * Shapes follow the ARM Key Vault REST reference (Vaults - List By Subscription) and Key Vault's RBAC denial.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ensureTlsMaterial } from '../../dev/emulator/tls';

/** A vault as the stand-in lists it. */
export interface StandInVault {
  name: string;
  vaultUri: string;
  tags?: Record<string, string>;
  enableRbacAuthorization?: boolean;
}

/** A running stand-in. */
export interface ArmStandIn {
  /** ARM endpoint, e.g. `https://127.0.0.1:PORT`. */
  endpoint: string;
  /** URL of the vault that refuses every data-plane call (the same origin: its paths never clash with ARM's). */
  forbiddenVaultUrl: string;
  caCertPem: string;
  /** Paths (with query) of the ARM requests received, and whether each carried a bearer token. */
  requests: { path: string; authorized: boolean }[];
  stop(): Promise<void>;
}

const PAGE_SIZE = 2;

/**
 * Starts the stand-in on an ephemeral port.
 * @param subscriptions - per subscription id, its vaults, or `forbidden` to refuse the listing
 * @param tlsDir - a folder with (or for) the emulator's TLS material; pass the emulator's data folder to share its CA
 */
export async function startArmStandIn(
  subscriptions: Record<string, StandInVault[] | 'forbidden'>,
  tlsDir: string,
): Promise<ArmStandIn> {
  const tls = await ensureTlsMaterial(tlsDir);
  const requests: ArmStandIn['requests'] = [];
  let origin = '';
  const server: Server = createServer({ cert: tls.serverCertPem, key: tls.serverKeyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    // Key Vault data-plane paths: this origin is also the vault kvguard may see but not read.
    if (/^\/(keys|secrets|certificates|deleted)/.test(url.pathname)) return answerForbiddenVault(req, res, origin);
    requests.push({
      path: `${url.pathname}${url.search}`,
      authorized: /^Bearer \S+/.test(req.headers.authorization ?? ''),
    });
    const match = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.KeyVault\/vaults$/i.exec(url.pathname);
    if (req.method !== 'GET' || !match || !url.searchParams.get('api-version')) {
      return json(res, 404, { error: { code: 'InvalidResourceType', message: `No route for ${url.pathname}` } });
    }
    const subscriptionId = match[1]!;
    const vaults = subscriptions[subscriptionId];
    if (vaults === undefined || vaults === 'forbidden') {
      return json(res, 403, {
        error: {
          code: 'AuthorizationFailed',
          message: `The client does not have authorization to perform action 'Microsoft.KeyVault/vaults/read' over scope '/subscriptions/${subscriptionId}'.`,
        },
      });
    }
    const skip = Number(url.searchParams.get('$skiptoken') ?? '0');
    const page = vaults.slice(skip, skip + PAGE_SIZE).map((v) => armVault(subscriptionId, v));
    const next = skip + PAGE_SIZE < vaults.length ? new URL(url) : undefined;
    next?.searchParams.set('$skiptoken', String(skip + PAGE_SIZE));
    json(res, 200, { value: page, ...(next ? { nextLink: next.toString() } : {}) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://localhost:${(server.address() as AddressInfo).port}`;
  return {
    endpoint: origin,
    forbiddenVaultUrl: `${origin}/`,
    caCertPem: tls.caCertPem,
    requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function armVault(subscriptionId: string, vault: StandInVault) {
  return {
    id: `/subscriptions/${subscriptionId}/resourceGroups/rg-${vault.name}/providers/Microsoft.KeyVault/vaults/${vault.name}`,
    name: vault.name,
    type: 'Microsoft.KeyVault/vaults',
    location: 'westeurope',
    tags: vault.tags ?? {},
    properties: {
      tenantId: '00000000-0000-0000-0000-000000000001',
      sku: { family: 'A', name: 'standard' },
      vaultUri: vault.vaultUri,
      enableRbacAuthorization: vault.enableRbacAuthorization ?? true,
      enableSoftDelete: true,
      provisioningState: 'Succeeded',
    },
  };
}

/** Key Vault's challenge to an unauthenticated request, then its RBAC denial. */
function answerForbiddenVault(req: IncomingMessage, res: ServerResponse, origin: string): void {
  req.resume();
  if (!req.headers.authorization) {
    res.setHeader(
      'WWW-Authenticate',
      `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001", resource="${origin}"`,
    );
    return json(res, 401, {
      error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
    });
  }
  json(res, 403, {
    error: {
      code: 'Forbidden',
      message: 'Caller is not authorized to perform action on resource. Action: Microsoft.KeyVault/vaults/keys/read',
      innererror: { code: 'ForbiddenByRbac' },
    },
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
