import type { Command } from 'commander';
import { catalogPage, DEFAULT_CATALOG_PAGE_SIZE, MAX_CATALOG_PAGE_SIZE, type CatalogPage } from '../../core/catalog';
import { cliServices } from '../context';
import { instantFlag, typeFlag, vaultFlag } from '../flags';
import { runCommand } from '../output';

interface ListOptions {
  vault?: string;
  type?: string;
  name?: string;
  asOf?: string;
  limit: string;
  continuationToken?: string;
  json?: boolean;
}

/**
 * `kvguard list [--vault] [--type] [--name] [--as-of] [--limit] [--continuation-token] [--json]`: the catalog newest
 * first, one page at a time — the same fields and answer as `GET /api/backups`.
 */
export function registerList(program: Command): void {
  program
    .command('list')
    .description('List stored backups (the catalog), newest first')
    .option('--vault <url>', 'vault URL or name')
    .option('--type <type>', 'key, secret or certificate')
    .option('--name <name>', 'object name')
    .option('--as-of <time>', 'only backups taken at or before this ISO time')
    .option('--limit <n>', `at most this many entries (1-${MAX_CATALOG_PAGE_SIZE})`, String(DEFAULT_CATALOG_PAGE_SIZE))
    .option('--continuation-token <token>', 'the next page, as the previous answer gave it')
    .option('--json', 'one JSON document on stdout')
    .action((options: ListOptions) => runCommand(options, () => list(options), render));
}

async function list(options: ListOptions): Promise<CatalogPage> {
  const { config, store } = cliServices();
  const vault = vaultFlag(config, options.vault)?.name;
  const type = options.type === undefined ? undefined : typeFlag(options.type);
  const asOf = instantFlag(options.asOf, '--as-of', 'asOf');
  return catalogPage(store, {
    vault,
    type,
    name: options.name,
    asOf,
    limit: Number(options.limit),
    continuationToken: options.continuationToken,
  });
}

function render({ items, continuationToken }: CatalogPage): string {
  const lines = items.map(
    (b) =>
      `${b.takenAt.toISOString()}  ${b.vault}/${b.type}/${b.name}  ${b.versionCount} version(s)  ${b.size} B  sha256:${b.sha256.slice(0, 16)}…  ${b.blobName}`,
  );
  if (continuationToken) lines.push(`… more: --continuation-token ${continuationToken}`);
  return lines.length > 0 ? lines.join('\n') : 'no backups match';
}
