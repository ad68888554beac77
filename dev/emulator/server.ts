/**
 * The HTTPS front of one vault: challenge auth, api-version check, traffic shaping, body parsing, routing and
 * Key Vault's error envelope. Nothing a client sends may crash it: every failure becomes a 4xx/5xx answer.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  accessDenied,
  badParameter,
  bodyTooLarge,
  methodNotAllowed,
  serviceUnavailable,
  ServiceError,
  unauthorized,
  unknownPath,
} from './errors';
import { OBJECT_NAME, type ApiRequest, type ApiResponse, type Route } from './api';
import { throttleError, type TrafficShaper } from './traffic';
import type { Vault } from './vault';
import type { TlsMaterial } from './tls';

/** Api-versions the emulator answers: those the installed SDKs send, the 7.x line and 2025-07-01. */
export const SUPPORTED_API_VERSIONS = new Set([
  '7.0',
  '7.1',
  '7.2',
  '7.3',
  '7.4',
  '7.5',
  '7.6',
  '7.6-preview.2',
  '2025-07-01',
]);
const LATEST_API_VERSION = '2025-07-01';
/** Tenant placed in the challenge; any token is accepted, so its value only matters to the SDK's parsing. */
export const EMULATOR_TENANT = '00000000-0000-0000-0000-00000000e1a0';
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** A running HTTPS listener bound to one vault. */
export interface VaultServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** What the server needs besides the vault itself. */
export interface VaultServerOptions {
  vault: Vault;
  routes: Route[];
  shaper: TrafficShaper;
  tls: TlsMaterial;
  host: string;
  port: number;
}

/** Starts the HTTPS server for one vault. */
export async function startVaultServer(options: VaultServerOptions): Promise<VaultServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ cert: options.tls.serverCertPem, key: options.tls.serverKeyPem }, (req, res) => {
    void handle(options, req, res);
  });
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function handle(options: VaultServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const answer = (response: ApiResponse, headers?: Record<string, string>) =>
    send(res, options.vault, req, response, headers);
  try {
    const rawBody = await readBody(req);
    if (!hasBearer(req)) return answer(errorResponse(unauthorized()), challengeHeader());
    const verdict = options.shaper.next();
    if (verdict.delayMs > 0) await delay(verdict.delayMs);
    if (verdict.kind === 'reset') return void req.socket.destroy();
    if (verdict.kind === 'unavailable') return answer(errorResponse(serviceUnavailable()));
    if (verdict.kind === 'forbidden') return answer(errorResponse(accessDenied(options.vault.identity.name)));
    if (verdict.kind === 'throttle') {
      const error = throttleError(verdict);
      return answer(errorResponse(error), error.headers);
    }
    const response = await dispatch(options, req, rawBody);
    answer(response, response.headers);
  } catch (error) {
    if (error instanceof ServiceError) return answer(errorResponse(error), error.headers);
    // Never crash on a request: anything unexpected is the service's 500, without internals. Tests treat any 500 as
    // an emulator bug (the service answers 500 to none of the requests kvguard sends).
    answer({
      status: 500,
      body: { error: { code: 'InternalServerError', message: 'The server encountered an internal error.' } },
    });
  }
}

function hasBearer(req: IncomingMessage): boolean {
  return /^Bearer\s+\S+/i.test(req.headers.authorization ?? '');
}

function challengeHeader(): Record<string, string> {
  return {
    'WWW-Authenticate': `Bearer authorization="https://login.microsoftonline.com/${EMULATOR_TENANT}", resource="https://vault.azure.net"`,
  };
}

async function dispatch(options: VaultServerOptions, req: IncomingMessage, rawBody: Buffer): Promise<ApiResponse> {
  const url = new URL(req.url ?? '/', 'https://localhost');
  const apiVersion = url.searchParams.get('api-version');
  if (!apiVersion) throw badParameter('The api-version query parameter (?api-version=) is required for all requests.');
  if (!SUPPORTED_API_VERSIONS.has(apiVersion)) {
    throw badParameter(
      `The specified version (${apiVersion}) is not recognized. Consider using the latest supported version (${LATEST_API_VERSION}).`,
    );
  }
  // `GET /keys/name/` (latest version) arrives with a trailing slash; empty segments carry no meaning.
  const decoded = url.pathname
    .split('/')
    .filter((segment) => segment !== '')
    .map(safeDecode);
  const method = (req.method ?? 'GET').toUpperCase();
  options.vault.settleDue();
  const match = matchRoute(options.routes, method, decoded);
  const body = parseBody(rawBody);
  const request: ApiRequest = {
    method,
    segments: decoded,
    query: url.searchParams,
    body,
    apiVersion,
    vault: options.vault,
  };
  return match.route.handle(request, match.params);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badParameter(`The request URI contains an invalid name: ${segment}`);
  }
}

function matchRoute(
  routes: Route[],
  method: string,
  segments: string[],
): { route: Route; params: Record<string, string> } {
  let pathMatched = false;
  for (const route of routes) {
    const params = matchPattern(route.pattern, segments);
    if (!params) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    for (const [key, value] of Object.entries(params)) {
      if (key === 'name' && !OBJECT_NAME.test(value)) {
        throw badParameter(`The request URI contains an invalid name: ${value}`);
      }
    }
    return { route, params };
  }
  // An empty object name (`PUT /secrets/`, `POST /certificates//create`) lands here too, as in the service.
  if (pathMatched) throw methodNotAllowed(method);
  throw unknownPath(`/${segments.join('/')}`);
}

function matchPattern(pattern: string, segments: string[]): Record<string, string> | undefined {
  const parts = pattern.split('/');
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of parts.entries()) {
    const segment = segments[index]!;
    if (part.startsWith(':')) params[part.slice(1)] = segment;
    else if (part.toLowerCase() !== segment.toLowerCase()) return undefined;
  }
  return params;
}

function parseBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw badParameter('The request body is not valid JSON.');
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(bodyTooLarge(MAX_BODY_BYTES));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function errorResponse(error: ServiceError): ApiResponse {
  return { status: error.status, body: error.body() };
}

/** The service version the emulator reports: the one in the newest recordings SOURCES.md cites. */
export const EMULATED_SERVICE_VERSION = '1.9.3347.1';

/** The headers every Key Vault answer carries (recorded answers, 2025-07-01; see SOURCES.md). */
function serviceHeaders(vault: Vault, req: IncomingMessage): Record<string, string> {
  const clientRequestId = req.headers['x-ms-client-request-id'];
  return {
    'Cache-Control': 'no-cache',
    Pragma: 'no-cache',
    Expires: '-1',
    'Strict-Transport-Security': 'max-age=31536000;includeSubDomains',
    'X-Content-Type-Options': 'nosniff',
    ...(typeof clientRequestId === 'string' ? { 'x-ms-client-request-id': clientRequestId } : {}),
    'x-ms-keyvault-network-info': `conn_type=Ipv4;addr=${req.socket.remoteAddress ?? '127.0.0.1'};act_addr_fam=InterNetwork;`,
    'x-ms-keyvault-region': vault.identity.location,
    'x-ms-keyvault-service-version': EMULATED_SERVICE_VERSION,
    'x-ms-request-id': randomUUID(),
  };
}

function send(
  res: ServerResponse,
  vault: Vault,
  req: IncomingMessage,
  response: ApiResponse,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = response.body === undefined ? undefined : Buffer.from(JSON.stringify(response.body), 'utf8');
  res.writeHead(response.status, {
    ...serviceHeaders(vault, req),
    // A 204 carries neither a body nor its length, as recorded.
    ...(payload ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(payload.length) } : {}),
    ...headers,
  });
  res.end(payload);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
