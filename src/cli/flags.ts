import { z } from 'zod';
import { Presets, SingleBar } from 'cli-progress';
import { findVault, objectTypeText, type KvGuardConfig } from '../config';
import type { ObjectType, VaultTarget } from '../core/domain';
import { KvGuardError } from '../core/errors';

/**
 * The configured vault a `--vault` flag names; undefined when the flag was not given.
 * @param config - the configuration holding the vaults
 * @param text - the flag's value (URL or name)
 */
export function vaultFlag(config: Pick<KvGuardConfig, 'vaults'>, text: string | undefined): VaultTarget | undefined {
  if (text === undefined) return undefined;
  const vault = findVault(config, text);
  if (!vault)
    throw new KvGuardError('ValidationError', `--vault ${JSON.stringify(text)} is not a configured vault`, {
      field: 'vault',
    });
  return vault;
}

/**
 * The object type a `--type` flag names (`key`, `keys`, `Key` …).
 * @param text - the flag's value
 * @param field - the request field the flag sets, for the error
 */
export function typeFlag(text: string, field = 'type'): ObjectType {
  const parsed = objectTypeText.safeParse(text);
  if (!parsed.success)
    throw new KvGuardError('ValidationError', `--type ${JSON.stringify(text)} must be key, secret or certificate`, {
      field,
    });
  return parsed.data;
}

/**
 * The instant a time flag names (`--as-of`, `--since` …); undefined when the flag was not given.
 * @param text - the flag's value, an ISO 8601 time
 * @param flag - the flag, for the error (e.g. `--since`)
 * @param field - the request field the flag sets
 */
export function instantFlag(text: string | undefined, flag: string, field: string): Date | undefined {
  if (text === undefined) return undefined;
  const at = new Date(text);
  if (Number.isNaN(at.getTime()))
    throw new KvGuardError('ValidationError', `${flag} ${JSON.stringify(text)} is not an ISO time`, { field });
  return at;
}

/**
 * A progress bar on stderr, started at 0 of 1; undefined unless stderr is a terminal and stdout is not JSON.
 * @param format - the bar's line, e.g. `restore [{bar}] {value}/{total} objects`
 * @param options - `json`: stdout carries one JSON document, so no bar
 */
export function progressBar(format: string, options: { json?: boolean }): SingleBar | undefined {
  if (options.json || !process.stderr.isTTY) return undefined;
  const bar = new SingleBar({ format, stream: process.stderr }, Presets.shades_classic);
  bar.start(1, 0);
  return bar;
}

/**
 * The configured vault a positional `<vault>` argument names.
 * @param config - the configuration holding the vaults
 * @param text - the argument (URL or name)
 */
export function vaultArgument(config: Pick<KvGuardConfig, 'vaults'>, text: string): VaultTarget {
  const vault = findVault(config, text);
  if (!vault)
    throw new KvGuardError('ValidationError', `vault ${JSON.stringify(text)} is not a configured vault`, {
      field: 'vault',
    });
  return vault;
}

/**
 * An ISO time flag (`--as-of`, `--to`), checked as the HTTP API checks it.
 * @param text - the flag's value
 * @param flag - the flag as typed, for the error
 * @param field - the request field it sets
 */
export function timeFlag(text: string, flag: string, field: string): string {
  const parsed = z.iso.datetime({ offset: true }).safeParse(text);
  if (!parsed.success) {
    throw new KvGuardError(
      'ValidationError',
      `${flag} ${JSON.stringify(text)} must be an ISO 8601 date-time with a time zone, e.g. 2026-12-01T12:00:00Z`,
      { field },
    );
  }
  return parsed.data;
}
