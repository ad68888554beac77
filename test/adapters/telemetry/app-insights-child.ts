/**
 * Runs in a child process so it can trust the test receiver's CA through NODE_EXTRA_CA_CERTS (read only at start):
 * sends telemetry the way production does (the connection string from the environment), flushes, and exits.
 */
import { appInsightsSink } from '../../../src/adapters/alert-sinks/app-insights';
import { createConsoleLogger, createTelemetry } from '../../../src/adapters/telemetry';

async function main(): Promise<void> {
  const telemetry = createTelemetry({
    connectionString: process.env.APPLICATIONINSIGHTS_CONNECTION_STRING,
    logger: createConsoleLogger('kvguard'),
  });
  telemetry.event(
    'kvguard.BackupRun',
    { vault: 'demo', clientSecret: 'child-secret-1', secretValue: 'child-secret-2' },
    { stored: 3, bytes: 4096 },
  );
  telemetry.metric('kvguard.BackupBytes', 4096, { vault: 'demo', token: 'child-secret-3' });
  await appInsightsSink(telemetry).send({
    type: 'kvguard.ObjectPurged',
    severity: 'critical',
    subject: 'demo/key/db-key',
    summary: 'The key db-key in vault demo was purged.',
    dedupeKey: 'purged/demo/key/db-key',
    occurredAt: '2025-03-01T12:00:00.000Z',
    data: { vault: 'demo', name: 'db-key' },
  });
  await telemetry.flush();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`child failed: ${String(error)}\n`);
    process.exit(1);
  },
);
