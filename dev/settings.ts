import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** What `local.settings.json` holds for the local stack (the file Azure Functions Core Tools reads too). */
export interface LocalSettings {
  /** `Values`: app settings, all as text. */
  values: Record<string, string>;
  /** `Host.LocalHttpPort`, when set. */
  localHttpPort?: number;
}

/** Options of {@link resolveDevSettings}. */
export interface DevSettingsOptions {
  /** Folder holding `local.settings.json` (the project root). */
  root: string;
  /** `local.settings.json` when the caller has already read it (else it is read from `root`). */
  local?: LocalSettings;
  /** Environment variables; they override the file and the defaults (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Values used when neither the file nor the environment sets them (e.g. what `npm start` wires). */
  defaults?: Record<string, string>;
}

/** Environment variables the dev host passes on even when neither the defaults nor the file name them. */
const APP_SETTING_PREFIXES = ['KVGUARD_', 'AzureWebJobs', 'APPLICATIONINSIGHTS_', 'FUNCTIONS_', 'WEBSITE_'];

/**
 * Reads `<root>/local.settings.json`; a missing file yields no values. Refuses an encrypted file and malformed JSON
 * with the file named (never echoing its content, which may hold connection strings).
 */
export function readLocalSettings(root: string): LocalSettings {
  const file = path.join(root, 'local.settings.json');
  if (!existsSync(file)) return { values: {} };
  let parsed: { IsEncrypted?: unknown; Values?: unknown; Host?: { LocalHttpPort?: unknown } };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message.split('\n')[0]})`, { cause: error });
  }
  if (parsed.IsEncrypted === true) {
    throw new Error(`${file} is encrypted; decrypt it (func settings decrypt) for the dev host`);
  }
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.Values ?? {})) {
    if (value === null || value === undefined) continue;
    values[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  const port = Number(parsed.Host?.LocalHttpPort);
  return Number.isInteger(port) && port > 0 ? { values, localHttpPort: port } : { values };
}

/**
 * The app settings the dev host runs with: `defaults`, overridden by `local.settings.json` `Values`, overridden by
 * environment variables (as the Functions host does with app settings and the environment).
 */
export function resolveDevSettings(options: DevSettingsOptions): Record<string, string> {
  const env = options.env ?? process.env;
  const settings: Record<string, string> = {
    ...options.defaults,
    ...(options.local ?? readLocalSettings(options.root)).values,
  };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (name in settings || APP_SETTING_PREFIXES.some((prefix) => name.startsWith(prefix))) settings[name] = value;
  }
  return settings;
}
