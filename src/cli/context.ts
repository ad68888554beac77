import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../config';
import { createConsoleLogger } from '../adapters/telemetry';
import type { Services } from '../composition';
import { createServices } from '../composition-adapters';
import { KvGuardError } from '../core/errors';

/** The part of `.kvguard/dev.json` (written by `npm start`) the CLI reads. */
const devStackSchema = z.object({
  vaults: z.array(z.object({ name: z.string(), url: z.string() })).min(1),
  caCertPath: z.string(),
  storage: z.object({ connectionString: z.string(), container: z.string().optional() }),
  settings: z.record(z.string(), z.string()).optional(),
  alertSettings: z.record(z.string(), z.string()).optional(),
});

/** Where the local stack describes itself, relative to the project root. */
export const DEV_STACK_FILE = join('.kvguard', 'dev.json');

/**
 * The settings the CLI runs with: the environment when it names vaults (Azure), else the local stack's
 * `.kvguard/dev.json` in the current directory (the environment still overrides single settings).
 */
export function cliSettings(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Record<string, string | undefined> {
  if (env.KVGUARD_VAULTS) return env;
  const file = join(cwd, DEV_STACK_FILE);
  if (!existsSync(file)) {
    throw new KvGuardError(
      'InvalidConfiguration',
      `No vaults configured: set KVGUARD_VAULTS (and KVGUARD_STORAGE…), or run inside the project with ${DEV_STACK_FILE} (npm start)`,
      { field: 'KVGUARD_VAULTS' },
    );
  }
  const parsed = devStackSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new KvGuardError(
      'InvalidConfiguration',
      `${DEV_STACK_FILE} is not what npm start writes: ${parsed.error.issues[0]?.message}`,
    );
  }
  const dev = parsed.data;
  return {
    ...dev.settings,
    ...dev.alertSettings,
    // Every vault the stack serves (the scratch vault too, as a restore target), with what the stack's own
    // KVGUARD_VAULTS says of each (`portable`).
    KVGUARD_VAULTS: JSON.stringify(
      dev.vaults.map((v) => ({ ...stackVaultEntry(dev.settings, v.name), url: v.url, name: v.name })),
    ),
    KVGUARD_STORAGE: dev.storage.connectionString,
    KVGUARD_CONTAINER: dev.storage.container,
    KVGUARD_CREDENTIAL: 'emulator',
    KVGUARD_KEYVAULT_CA_CERT: dev.caCertPath,
    KVGUARD_REQUIRE_PRINCIPAL: 'false',
    ...definedOnly(env),
  };
}

/** The stack's own KVGUARD_VAULTS entry of a vault (its flags), or nothing. */
function stackVaultEntry(settings: Record<string, string> | undefined, name: string): Record<string, unknown> {
  try {
    const entries = JSON.parse(settings?.['KVGUARD_VAULTS'] ?? '[]') as unknown;
    if (!Array.isArray(entries)) return {};
    const entry = (entries as Record<string, unknown>[]).find((e) => e && e['name'] === name);
    return entry ?? {};
  } catch {
    return {};
  }
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[0].startsWith('KVGUARD_')),
  );
}

/**
 * Builds the services the CLI's commands use. Logs go to stderr only (stdout carries the command's answer), and
 * informational lines only with `KVGUARD_VERBOSE=1`.
 */
export function cliServices(): Services {
  const toStderr = (line: string) => void process.stderr.write(`${line}\n`);
  const logger = createConsoleLogger('kvguard-cli', {
    out: process.env.KVGUARD_VERBOSE === '1' ? toStderr : () => {},
    err: toStderr,
  });
  // Without the deployment's sinks the CLI cannot deliver: it leaves its alerts in the outbox for the timer.
  return createServices(loadConfig(cliSettings()), logger, { alertsWithoutSinks: 'wait' });
}
