import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The CLI's entry point as users run it (`npx kvguard` in a checkout). */
export const CLI_BIN = join(__dirname, '..', '..', 'bin', 'kvguard.js');

/** How long one CLI process may take: a hang detector, generous because a loaded machine starts Node slowly. */
export const CLI_PATIENCE_MS = 150_000;

/** What one `kvguard` process answered. */
export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `kvguard` in a child process and answers its exit code, stdout and stderr (never throws on a non-zero exit). */
export async function runKvguard(
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string },
): Promise<CliOutcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_BIN, ...args], {
      env: options.env,
      cwd: options.cwd,
      timeout: CLI_PATIENCE_MS,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
