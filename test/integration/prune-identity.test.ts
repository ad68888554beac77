/**
 * The Azure path of pruning, end to end on this machine: `kvguard retention --apply` with identity-based storage
 * (HTTPS Azurite accepting bearer tokens), kvguard's identity and the prune identity served by a stand-in for the
 * App Service managed-identity endpoint (`IDENTITY_ENDPOINT` / `IDENTITY_HEADER`, what a Function App gets).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME, startAzurite, type RunningAzurite } from '../../dev/azurite';
import { ensureTlsMaterial } from '../../dev/emulator/tls';
import { BlobBackupStore } from '../../src/adapters/blob-backup-store';
import { uniqueStorageName } from '../support/azurite';
import { backupRecordOf } from '../support/catalog-fixtures';
import { runKvguard } from '../support/cli';

const kvguardClientId = randomUUID();
const pruneClientId = randomUUID();
const identityHeader = randomUUID();

/** Token requests the identity endpoint answered: which identity, for which resource. */
const tokenRequests: { clientId: string | null; resource: string | null }[] = [];
/** Requests kvguard sent to storage: which identity's token, which operation. */
const storageRequests: { clientId?: string; method: string; comp: string | null }[] = [];

let azurite: RunningAzurite;
let identityEndpoint: Server;
/** kvguard's way in: HTTPS, records each request's identity, then passes it on to Azurite unchanged. */
let recordingFront: Server;
/** The test's own way in: plain HTTP with the shared key, passed on over HTTPS (the test process lacks the CA). */
let testFront: Server;
let caCertPath: string;
let tlsDir: string;
let container: ContainerClient;

/** Passes a request on to Azurite's HTTPS endpoint (trusting the local CA) and streams the answer back. */
function forward(ca: string, request: IncomingMessage, response: ServerResponse): void {
  const target = new URL(azurite.blobUrl);
  const upstream = httpsRequest(
    {
      host: target.hostname,
      port: target.port,
      method: request.method,
      path: request.url,
      headers: { ...request.headers, host: target.host },
      ca,
    },
    (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    },
  );
  upstream.on('error', () => response.writeHead(502).end());
  request.pipe(upstream);
}

/** The `appid` of a bearer token, undefined for any other authorization. */
function tokenClientId(authorization: string | undefined): string | undefined {
  const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
  if (!token) return undefined;
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { appid?: string }).appid;
}

function listen(server: Server): Promise<Server> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const urlOf = (server: Server, protocol: 'http' | 'https') =>
  `${protocol}://127.0.0.1:${(server.address() as AddressInfo).port}/${DEV_ACCOUNT_NAME}`;

/** An unsigned JWT with the claims Azurite's basic OAuth checks (issuer, audience, lifetime). */
function storageToken(clientId: string): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { aud: 'https://storage.azure.com', iss: `https://sts.windows.net/${randomUUID()}/`, iat: now };
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ ...claims, nbf: now - 60, exp: now + 3600, appid: clientId })}.c2ln`;
}

/** Stands in for the App Service identity endpoint (api-version 2019-08-01). */
function startIdentityEndpoint(): Promise<Server> {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const clientId = url.searchParams.get('client_id');
    tokenRequests.push({ clientId, resource: url.searchParams.get('resource') });
    if (request.headers['x-identity-header'] !== identityHeader || !clientId) {
      response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_request"}');
      return;
    }
    const expiresOn = Math.floor(Date.now() / 1000) + 3600;
    response.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        access_token: storageToken(clientId),
        expires_on: String(expiresOn),
        resource: url.searchParams.get('resource'),
        token_type: 'Bearer',
        client_id: clientId,
      }),
    );
  });
  return listen(server);
}

beforeAll(async () => {
  const dir = (tlsDir = mkdtempSync(join(tmpdir(), 'kvguard-prune-')));
  const tls = await ensureTlsMaterial(dir);
  caCertPath = tls.caCertPath;
  writeFileSync(join(dir, 'server.pem'), tls.serverCertPem);
  writeFileSync(join(dir, 'server.key'), tls.serverKeyPem);
  [azurite, identityEndpoint] = await Promise.all([
    startAzurite({ oauth: { certPath: join(dir, 'server.pem'), keyPath: join(dir, 'server.key') } }),
    startIdentityEndpoint(),
  ]);
  const ca = tls.caCertPem;
  recordingFront = await listen(
    createHttpsServer({ cert: tls.serverCertPem, key: tls.serverKeyPem }, (request, response) => {
      const url = new URL(request.url ?? '/', 'https://localhost');
      storageRequests.push({
        clientId: tokenClientId(request.headers.authorization),
        method: request.method ?? '',
        comp: url.searchParams.get('comp'),
      });
      forward(ca, request, response);
    }),
  );
  testFront = await listen(createServer((request, response) => forward(ca, request, response)));
  const service = new BlobServiceClient(
    urlOf(testFront, 'http'),
    new StorageSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY),
  );
  container = service.getContainerClient(uniqueStorageName('prune'));
  await container.create();
});

afterAll(async () => {
  const close = (server: Server | undefined) => new Promise((resolve) => (server ? server.close(resolve) : resolve(0)));
  await Promise.all([azurite?.stop(), close(identityEndpoint), close(recordingFront), close(testFront)]);
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

/** Two backups of one key (`demo`, `DB-Key`), a day apart: `keepLast: 1` lets the older one go. */
async function seedTwoBackups(): Promise<{ older: string; newer: string }> {
  const store = new BlobBackupStore({ container, immutability: 'container', retentionDays: 90 });
  const names: string[] = [];
  for (const day of ['2026-11-01', '2026-11-02']) {
    const bytes = new TextEncoder().encode(`backup of ${day}`);
    const record = await store.putBackup(backupRecordOf(bytes, `${day}T00:00:00Z`), bytes);
    names.push(record.blobName);
  }
  return { older: names[0]!, newer: names[1]! };
}

/** `kvguard retention … --json` as the Function App would run it: identity-based storage, two identities. */
async function kvguard(args: string[], settings: Record<string, string>) {
  const env = {
    PATH: process.env.PATH,
    NODE_EXTRA_CA_CERTS: caCertPath,
    IDENTITY_ENDPOINT: `http://127.0.0.1:${(identityEndpoint.address() as AddressInfo).port}/msi/token`,
    IDENTITY_HEADER: identityHeader,
    KVGUARD_VAULTS: JSON.stringify([{ url: 'https://demo.vault.azure.net/', retention: { keepLast: 1 } }]),
    KVGUARD_STORAGE__blobServiceUri: urlOf(recordingFront, 'https'),
    KVGUARD_STORAGE__queueServiceUri: azurite.queueUrl,
    KVGUARD_CONTAINER: container.containerName,
    KVGUARD_CREATE_CONTAINERS: 'false',
    AZURE_CLIENT_ID: kvguardClientId,
    ...settings,
  };
  const { code, stdout, stderr } = await runKvguard([...args, '--json'], { env, cwd: tmpdir() });
  return { code, json: stdout ? JSON.parse(stdout) : undefined, stderr };
}

describe('pruning through the prune identity, against HTTPS Azurite with bearer tokens', () => {
  it('tags what the plan lets go with a token of the prune identity, reading the catalog as kvguard itself', async () => {
    const { older, newer } = await seedTwoBackups();
    tokenRequests.length = 0;
    storageRequests.length = 0;

    const applied = await kvguard(['retention', '--apply'], {
      KVGUARD_PRUNING: 'true',
      KVGUARD_PRUNE_CLIENT_ID: pruneClientId,
    });

    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.json.vaults[0].marks).toEqual({ vault: 'demo', marked: 1, failed: [] });
    expect((await container.getBlobClient(older).getTags()).tags).toMatchObject({ 'kvguard-prunable': 'true' });
    expect((await container.getBlobClient(newer).getTags()).tags).toEqual({});
    // Both identities asked for storage tokens: kvguard's to read the catalog, the prune identity's to tag.
    const storageClients = new Set(
      tokenRequests.filter((t) => t.resource?.startsWith('https://storage.azure.com')).map((t) => t.clientId),
    );
    expect(storageClients).toEqual(new Set([kvguardClientId, pruneClientId]));
    // Every tag write went with the prune identity's token, and that token did nothing else.
    const tagWrites = storageRequests.filter((r) => r.method === 'PUT' && r.comp === 'tags');
    expect(tagWrites.length).toBeGreaterThanOrEqual(1);
    expect(tagWrites.every((r) => r.clientId === pruneClientId)).toBe(true);
    expect(storageRequests.filter((r) => r.clientId === pruneClientId).every((r) => r.comp === 'tags')).toBe(true);
    expect(storageRequests.filter((r) => r.clientId === kvguardClientId).length).toBeGreaterThan(0);
  });

  it('with pruning off asks for no prune token and tags nothing; --plan still reports', async () => {
    tokenRequests.length = 0;
    storageRequests.length = 0;
    const planned = await kvguard(['retention', '--plan'], { KVGUARD_PRUNE_CLIENT_ID: pruneClientId });
    expect(planned.code).toBe(0);
    expect(planned.json.vaults[0].totals).toMatchObject({ backups: 2, prune: 1 });
    const refused = await kvguard(['retention', '--apply'], { KVGUARD_PRUNE_CLIENT_ID: pruneClientId });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('KVGUARD_PRUNING=false');
    expect(tokenRequests.map((t) => t.clientId)).not.toContain(pruneClientId);
    expect(storageRequests.filter((r) => r.comp === 'tags')).toEqual([]);
  });
});
