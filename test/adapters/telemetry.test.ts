import { describe, expect, it } from 'vitest';
import { createConsoleLogger, createTelemetry, scrub } from '../../src/adapters/telemetry';
import { RecordingLogger } from '../support/in-memory';

describe('scrub', () => {
  it('hides the values of properties named like secret material, nested ones included', () => {
    const scrubbed = scrub({
      vault: 'demo',
      secretValue: 's3cr3t',
      password: 'hunter2',
      nested: { value: 'v', accountKey: 'k', name: 'db-key', list: [{ token: 't' }] },
      backup: new Uint8Array(10),
      error: new Error('boom'),
    });
    expect(scrubbed).toEqual({
      vault: 'demo',
      secretValue: '[redacted]',
      password: '[redacted]',
      nested: { value: '[redacted]', accountKey: '[redacted]', name: 'db-key', list: [{ token: '[redacted]' }] },
      backup: '<10 bytes>',
      error: { name: 'Error', message: 'boom', code: undefined },
    });
  });
});

describe('createConsoleLogger', () => {
  it('writes one JSON line per record, info to stdout and problems to stderr, without secret values', () => {
    const out: string[] = [];
    const err: string[] = [];
    const logger = createConsoleLogger('kvguard', { out: (l) => out.push(l), err: (l) => err.push(l) });
    logger.info('stored', { name: 'db-key', secret: 'never-shown' });
    logger.error('failed', { code: 'Forbidden' });
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!)).toMatchObject({
      level: 'info',
      logger: 'kvguard',
      message: 'stored',
      name: 'db-key',
      secret: '[redacted]',
    });
    expect(out[0]).not.toContain('never-shown');
    expect(JSON.parse(err[0]!)).toMatchObject({ level: 'error', message: 'failed', code: 'Forbidden' });
  });
});

describe('createTelemetry without Application Insights', () => {
  it('turns events and metrics into structured log lines', () => {
    const logger = new RecordingLogger();
    const telemetry = createTelemetry({ logger });
    telemetry.event('kvguard.run', { vault: 'demo', password: 'x' }, { stored: 3 });
    telemetry.metric('kvguard.bytes', 42, { vault: 'demo' });
    expect(logger.records[0]).toMatchObject({
      properties: {
        event: 'kvguard.run',
        properties: { vault: 'demo', password: '[redacted]' },
        measurements: { stored: 3 },
      },
    });
    expect(logger.records[1]).toMatchObject({ properties: { metric: 'kvguard.bytes', metricValue: 42 } });
  });
});
