import type { Command } from 'commander';
import { findVault, objectTypeText } from '../../config';
import type { BackupRecord, ObjectType } from '../../core/domain';
import { KvGuardError } from '../../core/errors';
import { cliServices } from '../context';
import { runCommand } from '../output';

interface ListOptions {
  vault?: string;
  type?: string;
  name?: string;
  asOf?: string;
  limit: string;
  json?: boolean;
}

/** `kvguard list [--vault] [--type] [--name] [--as-of] [--limit] [--json]`: reads the catalog, newest first per object. */
export function registerList(program: Command): void {
  program
    .command('list')
    .description('List stored backups (the catalog), newest first per object')
    .option('--vault <url>', 'vault URL or name')
    .option('--type <type>', 'key, secret or certificate')
    .option('--name <name>', 'object name')
    .option('--as-of <time>', 'only backups taken at or before this ISO time')
    .option('--limit <n>', 'at most this many entries', '1000')
    .option('--json', 'one JSON document on stdout')
    .action((options: ListOptions) => runCommand(options, () => list(options), render));
}

async function list(options: ListOptions): Promise<{ backups: BackupRecord[]; truncated: boolean }> {
  const { config, store } = cliServices();
  const vault = options.vault === undefined ? undefined : findVault(config, options.vault)?.name;
  if (options.vault !== undefined && !vault) {
    throw new KvGuardError('ValidationError', `--vault ${JSON.stringify(options.vault)} is not a configured vault`, { field: 'vault' });
  }
  const type = options.type === undefined ? undefined : parseType(options.type);
  const asOf = options.asOf === undefined ? undefined : new Date(options.asOf);
  if (asOf && Number.isNaN(asOf.getTime())) {
    throw new KvGuardError('ValidationError', `--as-of ${JSON.stringify(options.asOf)} is not an ISO time`, { field: 'asOf' });
  }
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new KvGuardError('ValidationError', `--limit ${JSON.stringify(options.limit)} is not a positive integer`, { field: 'limit' });
  }
  const backups: BackupRecord[] = [];
  for await (const record of store.listBackups({ vault, type, name: options.name, asOf })) {
    if (backups.length === limit) return { backups, truncated: true };
    backups.push(record);
  }
  return { backups, truncated: false };
}

function parseType(text: string): ObjectType {
  const parsed = objectTypeText.safeParse(text);
  if (!parsed.success) throw new KvGuardError('ValidationError', `--type ${JSON.stringify(text)} must be key, secret or certificate`, { field: 'type' });
  return parsed.data;
}

function render({ backups, truncated }: { backups: BackupRecord[]; truncated: boolean }): string {
  const lines = backups.map(
    (b) => `${b.takenAt.toISOString()}  ${b.vault}/${b.type}/${b.name}  ${b.versionCount} version(s)  ${b.size} B  sha256:${b.sha256.slice(0, 16)}…  ${b.blobName}`,
  );
  if (truncated) lines.push('… more entries: raise --limit or narrow the query');
  return lines.length > 0 ? lines.join('\n') : 'no backups match';
}
