/**
 * Reliability of kvguard's edges: property-based fuzzing of every HTTP route, the Event Grid webhook and the queue
 * messages through the dev host; duplicate, concurrent and crashed-claim Event Grid deliveries; secret canaries.
 */
import fc from 'fast-check';
import { BlobServiceClient } from '@azure/storage-blob';
import { InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupSettings, useServices, type Services } from '../../src/composition';
import { createServices } from '../../src/composition-adapters';
import { findVault, loadConfig } from '../../src/config';
import { claimOnce, dedupeStateKey } from '../../src/core/alerts';
import { runBackupJob } from '../../src/core/backup/backup-vault';
import { backupVaultNow } from '../../src/core/backup/runs';
import { isKvGuardError } from '../../src/core/errors';
import { handleVaultEvent } from '../../src/core/events';
import type { BackupJob } from '../../src/core/jobs';
import type { Clock } from '../../src/core/ports';
import { functionDefinitions } from '../../src/functions';
import { backupVaultFunction } from '../../src/functions/backup-vault';
import { restoreJobFunction } from '../../src/functions/restore-job';
import { startDevHost, type RunningDevHost } from '../../dev/host';
import { keyVaultObjectEvent, vaultResourceId } from '../core/events/fixtures';
import { startTestAzurite, uniqueStorageName, type TestAzurite } from '../support/azurite';
import { bearer, serveJwks, TEST_AUDIENCE, TEST_TENANT } from '../support/entra';
import { sdkClients, startTestEmulator, type TestEmulator } from '../support/emulator';
import { CanarySearch, printFigures, SCALE, TEST_TIMEOUT_MS } from './support';

let emulator: TestEmulator;
let azurite: TestAzurite;
let jwks: Awaited<ReturnType<typeof serveJwks>>;
let host: RunningDevHost;
let settings: Record<string, string>;
let services: Services;
let clients: ReturnType<typeof sdkClients>;
const canaries = new CanarySearch();

beforeAll(async () => {
  [emulator, azurite, jwks] = await Promise.all([
    startTestEmulator({ vaults: [{ name: 'edges' }] }),
    startTestAzurite(),
    serveJwks(),
  ]);
  settings = {
    KVGUARD_VAULTS: JSON.stringify([{ url: emulator.url, name: 'edges' }]),
    KVGUARD_STORAGE: azurite.connectionString,
    KVGUARD_CONTAINER: uniqueStorageName('backups'),
    KVGUARD_STATE_CONTAINER: uniqueStorageName('state'),
    KVGUARD_BACKUP_QUEUE: uniqueStorageName('jobs'),
    KVGUARD_RESTORE_QUEUE: uniqueStorageName('restores'),
    KVGUARD_CREDENTIAL: 'emulator',
    KVGUARD_KEYVAULT_CA_CERT: emulator.caCertPath,
    KVGUARD_REQUIRE_PRINCIPAL: 'true',
    KVGUARD_AUTH_TENANT_ID: TEST_TENANT,
    KVGUARD_AUTH_AUDIENCE: TEST_AUDIENCE,
    KVGUARD_AUTH_JWKS_URL: jwks.url,
  };
  services = { ...createServices(loadConfig(settings), canaries.logger()), telemetry: canaries.telemetry() };
  clients = sdkClients(emulator.url, emulator.caCertPem);
  for (let i = 0; i < Math.max(SCALE.events, 4); i++) {
    await clients.secrets.setSecret(`secret-${i}`, canaries.canary());
    await clients.keys.createEcKey(`key-${i}`);
  }
  await backupVaultNow(services.config.vaults[0]!, services, backupSettings(services.config));
  useServices(undefined);
  host = await startDevHost({
    definitions: functionDefinitions,
    settings,
    queuePollMs: 200,
    logSink: (record) => canaries.addOutput(JSON.stringify(record)),
  });
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await host?.stop();
  useServices(undefined);
  await Promise.all([emulator?.stop(), azurite?.stop(), jwks?.stop()]);
});

/** Counts answers by status. */
function tally(statuses: (number | string)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

const KNOWN_ROUTES: Record<string, string[]> = {
  '/api/restore': ['POST'],
  '/api/backups': ['GET'],
  '/api/status': ['GET'],
};

describe('reliability: HTTP, webhook and queue fuzzing', () => {
  it(
    'answers every fuzzed HTTP request below 500, and every kvguard 4xx names what was wrong',
    async () => {
      const auth = {
        restore: bearer('fuzz-operator', ['kvguard.Restore']),
        read: bearer('fuzz-reader', ['kvguard.Read']),
        none: {},
        forged: {
          'x-ms-client-principal': Buffer.from('{"claims":[{"typ":"roles","val":"kvguard.Restore"}]}').toString(
            'base64',
          ),
        },
        garbage: { authorization: 'Bearer not.a.token' },
      };
      const body = fc.oneof(
        fc.json(),
        fc.string(),
        fc.constant('{"vault":"edges","__proto__":{"name":"key-0"}}'),
        fc.constant('{"vault":"edges","dryRun":true,"dryRun":false}'),
        fc
          .record(
            {
              vault: fc.oneof(fc.constant('edges'), fc.constant(emulator.url), fc.string()),
              objectType: fc.oneof(fc.constantFrom('key', 'secret', 'certificate'), fc.string()),
              name: fc.oneof(fc.constant('key-0'), fc.string()),
              asOf: fc.oneof(
                fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
                fc.string(),
              ),
              dryRun: fc.constant(true),
              onConflict: fc.oneof(fc.constantFrom('fail', 'skip', 'recover', 'purge'), fc.string()),
              targetVault: fc.string(),
            },
            { requiredKeys: ['dryRun'] },
          )
          .map((o) => JSON.stringify(o)),
      );
      // Mostly the routes' own methods (so the handlers, not the host's 404, answer), sometimes anything at all.
      const target = fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(
            { path: '/api/restore', method: 'POST' },
            { path: '/api/backups', method: 'GET' },
            { path: '/api/status', method: 'GET' },
            { path: '/api/restore/abc-123', method: 'GET' },
            { path: '/api/restore/%2e%2e', method: 'GET' },
          ),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            path: fc.oneof(
              fc.constantFrom(...Object.keys(KNOWN_ROUTES)),
              fc.string().map((s) => `/api/${encodeURIComponent(s)}`),
            ),
            method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
          }),
        },
      );
      const request = fc.record({
        target,
        query: fc.dictionary(
          fc.constantFrom('vault', 'type', 'name', 'asOf', 'limit', 'continuationToken', 'x', '__proto__'),
          fc.string(),
          { maxKeys: 4 },
        ),
        contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', ''),
        auth: fc.constantFrom(...(Object.keys(auth) as (keyof typeof auth)[])),
        body,
      });
      const statuses: number[] = [];
      const unnamed: string[] = [];
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const { path, method } = r.target;
          const url = new URL(path, host.url);
          for (const [k, v] of Object.entries(r.query)) url.searchParams.set(k, v);
          url.searchParams.set('code', host.functionKey);
          const hasBody = method !== 'GET';
          const response = await fetch(url, {
            method,
            headers: { ...auth[r.auth], ...(r.contentType ? { 'content-type': r.contentType } : {}) },
            ...(hasBody ? { body: r.body } : {}),
          });
          const text = await response.text();
          statuses.push(response.status);
          expect(response.status, `${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`).toBeLessThan(
            500,
          );
          const route = Object.keys(KNOWN_ROUTES).find(
            (p) => url.pathname === p || url.pathname.startsWith('/api/restore/'),
          );
          if (response.status >= 400 && route && response.headers.get('content-type')?.includes('json')) {
            const error = (JSON.parse(text) as { error?: { code?: string; message?: string; requestId?: string } })
              .error;
            if (!error?.code || !error.message || !error.requestId) unnamed.push(`${method} ${url.pathname}: ${text}`);
          }
        }),
        { numRuns: SCALE.fuzzRuns, seed: 20261201 },
      );
      printFigures('fuzz-http', { requests: statuses.length, byStatus: tally(statuses), unnamed4xx: unnamed.length });
      expect(unnamed).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers every fuzzed Event Grid delivery below 500',
    async () => {
      const event = fc.record(
        {
          id: fc.uuid(),
          eventType: fc.oneof(
            fc.constantFrom(
              'Microsoft.KeyVault.KeyNewVersionCreated',
              'Microsoft.KeyVault.SecretNearExpiry',
              'Microsoft.KeyVault.CertificateExpired',
              'Microsoft.KeyVault.VaultAccessPolicyChanged',
              'Microsoft.Resources.ResourceDeleteSuccess',
            ),
            fc.string(),
          ),
          topic: fc.oneof(fc.constant(vaultResourceId('edges')), fc.string(), fc.constant('/subscriptions/../..')),
          subject: fc.string(),
          eventTime: fc.oneof(
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            fc.string(),
          ),
          data: fc.oneof(
            fc.jsonValue(),
            fc.record(
              {
                Id: fc.oneof(fc.constant(`${emulator.url}keys/key-0/abc`), fc.string()),
                VaultName: fc.oneof(fc.constant('edges'), fc.string()),
                ObjectType: fc.oneof(fc.constantFrom('Key', 'Secret', 'Certificate'), fc.string()),
                ObjectName: fc.oneof(fc.constant('key-0'), fc.string({ maxLength: 300 })),
                Version: fc.string(),
                NBF: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
                EXP: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
              },
              { requiredKeys: [] },
            ),
          ),
        },
        { requiredKeys: ['id'] },
      );
      const delivery = fc.array(fc.oneof(event, fc.jsonValue()), { minLength: 1, maxLength: 5 });
      const statuses: number[] = [];
      await fc.assert(
        fc.asyncProperty(delivery, async (events) => {
          const response = await fetch(`${host.url}/runtime/webhooks/eventgrid?functionName=vaultEvents`, {
            method: 'POST',
            headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
            body: JSON.stringify(events),
          });
          statuses.push(response.status);
          expect(response.status, await response.text()).toBeLessThan(500);
        }),
        { numRuns: SCALE.webhookRuns, seed: 20261202 },
      );
      printFigures('fuzz-webhook', { deliveries: statuses.length, byStatus: tally(statuses) });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'refuses every malformed queue message with a validation error naming the field, never a crash',
    async () => {
      const nearBackupJob = fc.record(
        {
          kind: fc.oneof(fc.constant('backup'), fc.string()),
          runId: fc.string(),
          vaultUrl: fc.oneof(fc.constant(emulator.url), fc.webUrl(), fc.string()),
          trigger: fc.oneof(fc.constantFrom('schedule', 'manual', 'event'), fc.string()),
          full: fc.oneof(fc.boolean(), fc.string()),
          objects: fc.array(fc.record({ type: fc.string(), name: fc.string() })),
          followUp: fc.oneof(fc.integer(), fc.string()),
          enqueuedAt: fc.oneof(
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            fc.string(),
          ),
        },
        { requiredKeys: [] },
      );
      const message = fc.oneof(
        fc.jsonValue(),
        fc.string(),
        nearBackupJob,
        fc.record({ kind: fc.constant('restore'), requestId: fc.string() }),
      );
      const outcomes: string[] = [];
      useServices(services);
      try {
        await fc.assert(
          fc.asyncProperty(message, fc.constantFrom(backupVaultFunction, restoreJobFunction), async (m, fn) => {
            const context = new InvocationContext({
              invocationId: 'fuzz',
              functionName: fn.name,
              logHandler: () => {},
            });
            try {
              await fn.handler(m, context);
              outcomes.push('accepted');
            } catch (error) {
              expect(isKvGuardError(error), String(error)).toBe(true);
              if (isKvGuardError(error, 'ValidationError')) expect(error.field).toBeTruthy();
              outcomes.push(isKvGuardError(error) ? error.code : 'crash');
            }
          }),
          { numRuns: SCALE.queueRuns, seed: 20261203 },
        );
      } finally {
        useServices(undefined);
      }
      printFigures('fuzz-queue', { messages: outcomes.length, byOutcome: tally(outcomes) });
      expect(outcomes).not.toContain('crash');
    },
    TEST_TIMEOUT_MS,
  );
});

describe('reliability: stored backups through the HTTP API', () => {
  it(
    'refuses every attempt to overwrite or delete a stored backup over HTTP',
    async () => {
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
        settings.KVGUARD_CONTAINER!,
      );
      const etags = async () => {
        const all = new Map<string, string>();
        for await (const blob of container.listBlobsFlat({ prefix: 'backups/' }))
          all.set(blob.name, blob.properties.etag);
        return all;
      };
      const before = await etags();
      const [blobName] = [...before.keys()];
      const attempts: { method: string; path: string; status: number }[] = [];
      for (const method of ['PUT', 'DELETE', 'PATCH', 'POST']) {
        for (const path of ['/api/backups', `/api/backups/${encodeURIComponent(blobName!)}`, `/api/${blobName}`]) {
          const response = await fetch(`${host.url}${path}?code=${host.functionKey}`, {
            method,
            headers: { ...bearer('operator', ['kvguard.Restore']), 'content-type': 'application/json' },
            body: '{}',
          });
          attempts.push({ method, path: path.slice(0, 40), status: response.status });
        }
      }
      const after = await etags();
      printFigures('tamper-http', {
        attempts: attempts.length,
        byStatus: tally(attempts.map((a) => a.status)),
        backupsBefore: before.size,
        backupsAfter: after.size,
        changed: [...before].filter(([name, etag]) => after.get(name) !== etag).length,
      });
      expect(attempts.filter((a) => a.status < 400)).toEqual([]);
      // Snapshot jobs of the fuzzed deliveries may add backups meanwhile; none that existed may change or go.
      expect([...before].filter(([name, etag]) => after.get(name) !== etag)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('reliability: Event Grid deliveries', () => {
  it(
    'takes exactly one snapshot per event through duplicate, concurrent and crashed-claim deliveries',
    async () => {
      let offsetMs = 0;
      const clock: Clock = {
        now: () => new Date(Date.now() + offsetMs),
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      };
      const jobs: BackupJob[] = [];
      const deps = {
        findVault: (urlOrName: string) => findVault(services.config, urlOrName),
        snapshotOnPolicyChange: false,
        state: services.state,
        backupQueue: { send: async (job: BackupJob) => void jobs.push(job) },
        alerts: services.alerts,
        store: services.store,
        logger: canaries.logger(),
        clock,
      };
      const deliveries = { duplicate: 0, concurrent: 0, crashedClaim: 0, retryableAnswers: 0, attempts: 0 };
      /** Event Grid's behaviour: redeliver on failure after 10 s, 30 s, 1 min, 5 min, 10 min … (clock moved, not waited). */
      const deliverUntilAccepted = async (event: unknown) => {
        for (const backoffMs of [0, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000]) {
          offsetMs += backoffMs;
          deliveries.attempts += 1;
          try {
            return await handleVaultEvent(event, deps);
          } catch (error) {
            if (!isKvGuardError(error, 'InProgress', 'Transient', 'Throttled')) throw error;
            deliveries.retryableAnswers += 1;
          }
        }
        throw new Error('Event Grid gave up');
      };
      const names: string[] = [];
      for (let i = 0; i < SCALE.events; i++) {
        const name = `evented-${i}`;
        names.push(name);
        await clients.keys.createEcKey(name);
        const event = keyVaultObjectEvent('Microsoft.KeyVault.KeyNewVersionCreated', {
          vault: 'edges',
          name,
          id: `evt-${i}-${Date.now()}`,
        });
        const mode = i % 3;
        if (mode === 0) {
          deliveries.duplicate += 1;
          for (let d = 0; d < 3; d++) await deliverUntilAccepted(event);
        } else if (mode === 1) {
          deliveries.concurrent += 1;
          await Promise.all([deliverUntilAccepted(event), deliverUntilAccepted(event), deliverUntilAccepted(event)]);
        } else {
          deliveries.crashedClaim += 1;
          const id = (event as { id: string }).id;
          await claimOnce(services.state, clock, dedupeStateKey('events', `${vaultResourceId('edges')}|${id}`), {
            eventId: id,
          });
          await deliverUntilAccepted(event);
          await deliverUntilAccepted(event);
        }
      }
      const before = new Map<string, number>();
      for (const name of names) {
        let n = 0;
        for await (const _ of services.store.listBackups({ vault: 'edges', type: 'key', name })) n += 1;
        before.set(name, n);
      }
      for (const job of jobs) {
        await runBackupJob(job, services.config.vaults[0]!, services, backupSettings(services.config), async () => {});
      }
      const snapshots: Record<string, number> = {};
      for (const name of names) {
        let n = 0;
        for await (const _ of services.store.listBackups({ vault: 'edges', type: 'key', name })) n += 1;
        snapshots[name] = n - before.get(name)!;
      }
      printFigures('event-deliveries', { events: names.length, ...deliveries, jobsEnqueued: jobs.length, snapshots });
      expect(Object.values(snapshots)).toEqual(names.map(() => 1));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'never lets a secret value into a host log line, telemetry item or stored non-backup blob',
    async () => {
      await host.idle(60_000).catch(() => undefined);
      const hits = await canaries.searchAndReport('canaries-http-and-events', azurite.connectionString, [
        settings.KVGUARD_CONTAINER!,
        settings.KVGUARD_STATE_CONTAINER!,
      ]);
      expect(hits).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
