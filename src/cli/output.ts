import { describeError, KvGuardError } from '../core/errors';

/** Options every command takes. */
export interface OutputOptions {
  json?: boolean;
}

/**
 * Runs a command body: prints its result as one JSON document with `--json`, else as text; on failure prints a
 * one-line reason on stderr and sets a non-zero exit code. `failed` lets a command report a result and still fail.
 */
export async function runCommand<T>(
  options: OutputOptions,
  body: () => Promise<T>,
  render: (result: T) => string,
  failed: (result: T) => string | undefined = () => undefined,
): Promise<void> {
  try {
    const result = await body();
    process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${render(result)}\n`);
    const failure = failed(result);
    if (failure) {
      process.stderr.write(`kvguard: ${failure}\n`);
      process.exitCode = 1;
    }
  } catch (error) {
    reportError(error, options);
  }
}

/**
 * Reports a failure: a one-line reason on stderr, and with `--json` also one JSON document on stdout shaped like the
 * HTTP API's errors, `{ "error": { code, message, field } }`; sets a non-zero exit code.
 * @param error - what was thrown
 * @param options - whether stdout carries JSON
 */
export function reportError(error: unknown, options: OutputOptions): void {
  const { code, reason } = describeError(error);
  const message = reason.split('\n')[0]!;
  const field = error instanceof KvGuardError ? error.field : undefined;
  if (options.json)
    process.stdout.write(`${JSON.stringify({ error: { code, message, ...(field ? { field } : {}) } }, null, 2)}\n`);
  process.stderr.write(`kvguard: ${code}: ${message}\n`);
  process.exitCode = 1;
}
