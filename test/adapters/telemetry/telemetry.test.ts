import { afterEach, describe, expect, it, vi } from 'vitest';
import { createConsoleLogger, createTelemetry, isSecretFieldName, scrub } from '../../../src/adapters/telemetry';

describe('scrub', () => {
  it('hides the values of properties named like secret material, nested ones included', () => {
    const scrubbed = scrub({
      vault: 'demo',
      secretValue: 's3cr3t',
      password: 'hunter2',
      nested: { value: 'v', accountKey: 'k', name: 'db-key', list: [{ token: 't' }] },
      AzureWebJobsStorage__connectionString: 'DefaultEndpointsProtocol=https;AccountKey=abc',
      client_secret: 'cs',
      backup: new Uint8Array(10),
      error: new Error('boom'),
    });
    expect(scrubbed).toEqual({
      vault: 'demo',
      secretValue: '[redacted]',
      password: '[redacted]',
      nested: { value: '[redacted]', accountKey: '[redacted]', name: 'db-key', list: [{ token: '[redacted]' }] },
      AzureWebJobsStorage__connectionString: '[redacted]',
      client_secret: '[redacted]',
      backup: '<10 bytes>',
      error: { name: 'Error', message: 'boom', code: undefined },
    });
  });

  it('keeps numbers, sizes and the names of secrets: they are not secret material', () => {
    expect(
      scrub({ metricValue: 42, bytes: 4096, value: 7, secretName: 'db-pass', tokenCount: 3, keySize: 2048 }),
    ).toEqual({ metricValue: 42, bytes: 4096, value: 7, secretName: 'db-pass', tokenCount: 3, keySize: 2048 });
  });

  it('still hides a numeric-looking string under a secret name', () => {
    expect(scrub({ value: '1234', pin: 1 })).toEqual({ value: '[redacted]', pin: 1 });
  });

  it('names secret fields precisely, whatever their spelling', () => {
    expect(
      ['value', 'Key', 'sig', 'clientSecret', 'STORAGE_ACCOUNT_KEY', 'refresh-token', 'privateKey'].filter(
        isSecretFieldName,
      ),
    ).toHaveLength(7);
    expect(
      ['metricValue', 'bytes', 'keyName', 'secretName', 'size', 'sha256', 'valueCount'].filter(isSecretFieldName),
    ).toEqual([]);
  });
});

/** Lines the real console logger wrote to the process's stdout and stderr while `run` ran. */
function captureConsole(run: () => void): { out: unknown[]; err: unknown[] } {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  try {
    run();
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const parse = (chunks: string[]) =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as unknown);
  return { out: parse(out), err: parse(err) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createConsoleLogger', () => {
  it('writes one JSON line per record, info to stdout and problems to stderr, without secret values', () => {
    const { out, err } = captureConsole(() => {
      const logger = createConsoleLogger('kvguard');
      logger.info('stored', { name: 'db-key', secret: 'never-shown', size: 12 });
      logger.error('failed', { code: 'Forbidden' });
    });
    expect(out).toEqual([
      {
        time: expect.any(String),
        level: 'info',
        logger: 'kvguard',
        message: 'stored',
        name: 'db-key',
        secret: '[redacted]',
        size: 12,
      },
    ]);
    expect(err).toEqual([
      { time: expect.any(String), level: 'error', logger: 'kvguard', message: 'failed', code: 'Forbidden' },
    ]);
  });
});

describe('createTelemetry without Application Insights', () => {
  it('turns events and metrics into log lines of the production logger, numbers intact and secrets hidden', () => {
    const { out } = captureConsole(() => {
      const telemetry = createTelemetry({ logger: createConsoleLogger('kvguard') });
      telemetry.event('kvguard.run', { vault: 'demo', password: 'x-secret' }, { stored: 3, bytes: 4096 });
      telemetry.metric('kvguard.bytes', 42, { vault: 'demo', token: 't-secret' });
    });
    expect(out).toEqual([
      expect.objectContaining({
        message: 'telemetry event kvguard.run',
        event: 'kvguard.run',
        properties: { vault: 'demo', password: '[redacted]' },
        measurements: { stored: 3, bytes: 4096 },
      }),
      expect.objectContaining({
        message: 'telemetry metric kvguard.bytes',
        metric: 'kvguard.bytes',
        metricValue: 42,
        properties: { vault: 'demo', token: '[redacted]' },
      }),
    ]);
    expect(JSON.stringify(out)).not.toMatch(/x-secret|t-secret/);
  });
});
