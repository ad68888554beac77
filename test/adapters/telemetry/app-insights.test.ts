/**
 * The Application Insights adapter against a local HTTPS receiver standing in for the ingestion endpoint: what
 * arrives there is what Azure Monitor would store. The adapter runs in a child process (see app-insights-child.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localhostTls, startReceiver, type Receiver } from '../../support/receiver';

const CHILD = join(__dirname, 'app-insights-child.ts');
const SECRETS = ['child-secret-1', 'child-secret-2', 'child-secret-3'];

interface Envelope {
  name: string;
  iKey: string;
  data: { baseType: string; baseData: Record<string, unknown> };
}

let receiver: Receiver;
let folder: string;
let child: { stdout: string; stderr: string };

beforeAll(async () => {
  const tls = await localhostTls();
  folder = mkdtempSync(join(tmpdir(), 'kvguard-ai-'));
  const caPath = join(folder, 'ca.pem');
  writeFileSync(caPath, tls.cert);
  receiver = await startReceiver(tls);
  child = await promisify(execFile)(process.execPath, ['--import', 'tsx', CHILD], {
    timeout: 80_000,
    env: {
      ...process.env,
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-1111-2222-3333-444444444444;IngestionEndpoint=${receiver.url}/`,
      NODE_EXTRA_CA_CERTS: caPath,
      // Nothing may leave for the real service: no SDK self-telemetry.
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
      APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
    },
  });
  // Loading applicationinsights takes seconds of CPU; on a busy 2-core machine, much longer.
}, 90_000);

afterAll(async () => {
  await receiver?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

/** Every envelope the ingestion endpoint received. */
function envelopes(): Envelope[] {
  return receiver.requests.flatMap((r) => (Array.isArray(r.body) ? (r.body as Envelope[]) : []));
}

describe('Application Insights telemetry', () => {
  it('posts its batches to the ingestion endpoint of the connection string', () => {
    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const request of receiver.requests) expect(request).toMatchObject({ method: 'POST', url: '/v2.1/track' });
    for (const envelope of envelopes()) expect(envelope.iKey).toBe('00000000-1111-2222-3333-444444444444');
  });

  it('delivers events with their properties and measurements, secret-named properties redacted', () => {
    const event = envelopes().find((e) => e.data.baseData.name === 'kvguard.BackupRun');
    expect(event?.data).toMatchObject({
      baseType: 'EventData',
      baseData: {
        properties: { vault: 'demo', clientSecret: '[redacted]', secretValue: '[redacted]' },
        measurements: { stored: 3, bytes: 4096 },
      },
    });
  });

  it('delivers metrics with their values', () => {
    const metrics = envelopes()
      .filter((e) => e.data.baseType === 'MetricData')
      .flatMap((e) =>
        (e.data.baseData.metrics as { name: string; value: number }[]).map((m) => ({ ...m, ...e.data.baseData })),
      );
    expect(metrics).toContainEqual(
      expect.objectContaining({
        name: 'kvguard.BackupBytes',
        value: 4096,
        properties: expect.objectContaining({ vault: 'demo', token: '[redacted]' }),
      }),
    );
  });

  it('delivers alerts from the Application Insights sink as kvguard.Alert events', () => {
    const alert = envelopes().find((e) => e.data.baseData.name === 'kvguard.Alert');
    expect(alert?.data.baseData.properties).toMatchObject({
      type: 'kvguard.ObjectPurged',
      severity: 'critical',
      subject: 'demo/key/db-key',
      dedupeKey: 'purged/demo/key/db-key',
    });
  });

  it('sends no secret value anywhere: not to the endpoint, not to its own output', () => {
    const sent = JSON.stringify(receiver.requests.map((r) => r.body));
    for (const secret of SECRETS) {
      expect(sent).not.toContain(secret);
      expect(child.stdout + child.stderr).not.toContain(secret);
    }
  });
});
