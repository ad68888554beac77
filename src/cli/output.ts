import { describeError } from '../core/errors';

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
    const { code, reason } = describeError(error);
    process.stderr.write(`kvguard: ${code}: ${reason.split('\n')[0]}\n`);
    process.exitCode = 1;
  }
}
