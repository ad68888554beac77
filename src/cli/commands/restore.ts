import type { Command } from 'commander';
import { userInfo } from 'node:os';
import type { z } from 'zod';
import { findVault } from '../../config';
import { KvGuardError } from '../../core/errors';
import { requestRestore } from '../../core/restore/request-restore';
import type { RestoreReport } from '../../core/restore/restore-report';
import { isWholeVaultRequest, restoreRequestSchema, type RestoreRequest } from '../../core/restore/restore-request';
import { restoreSettingsFor } from '../../core/restore/restore-settings';
import { cliServices } from '../context';
import { progressBar, typeFlag } from '../flags';
import { runCommand } from '../output';

interface RestoreOptions {
  vault: string;
  type?: string;
  name?: string;
  asOf?: string;
  backup?: string;
  targetVault?: string;
  onConflict: string;
  dryRun?: boolean;
  format?: string;
  targetName?: string;
  json?: boolean;
}

/** Body fields of `POST /api/restore` and the flags that set them. */
const FLAG_OF_FIELD: Record<string, string> = {
  vault: '--vault',
  objectType: '--type',
  name: '--name',
  asOf: '--as-of',
  backup: '--backup',
  targetVault: '--target-vault',
  onConflict: '--on-conflict',
  dryRun: '--dry-run',
  format: '--format',
  targetName: '--target-name',
};

/** `kvguard restore`: the same request as `POST /api/restore`, run in this process, with a progress bar on a TTY. */
export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('Restore one object, or a whole vault as of a point in time, from kvguard backups')
    .requiredOption('--vault <urlOrName>', 'vault whose backups are restored (URL or name)')
    .option('--type <type>', 'key, secret or certificate')
    .option('--name <name>', 'one object (default: every object of the vault)')
    .option('--as-of <time>', 'use the newest backups taken at or before this ISO time')
    .option('--backup <blobName>', 'one exact backup blob (as `kvguard list` shows it)')
    .option(
      '--target-vault <urlOrName>',
      'restore into this vault (opaque: same subscription and geography; portable: anywhere)',
    )
    .option('--format <format>', "opaque (Key Vault's backups) or portable (the envelope-encrypted exports)", 'opaque')
    .option('--target-name <name>', 'portable restore of one --name: restore it under this name')
    .option('--on-conflict <policy>', 'when a name is taken: fail, skip, recover or purge', 'fail')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--json', 'one JSON document on stdout')
    .action((options: RestoreOptions) => runCommand(options, () => restore(options), render, failure));
}

async function restore(options: RestoreOptions): Promise<RestoreReport> {
  const deps = cliServices();
  const request = parseFlags(options, deps.config, deps.clock.now());
  const bar = isWholeVaultRequest(request)
    ? progressBar('restore [{bar}] {value}/{total} objects', options)
    : undefined;
  try {
    return await requestRestore(
      deps,
      request,
      {
        principal: `cli:${userInfo().username}`,
        allowJob: false,
        onProgress: (done, total) => {
          bar?.setTotal(total);
          bar?.update(done);
        },
      },
      restoreSettingsFor('cli', deps.config.runDeadlineSeconds),
    );
  } finally {
    bar?.stop();
  }
}

/** Validates the flags with the HTTP body's schema, so both accept exactly the same requests; errors name the flag. */
function parseFlags(options: RestoreOptions, config: Parameters<typeof findVault>[0], now: Date): RestoreRequest {
  const body = {
    vault: options.vault,
    objectType: options.type === undefined ? undefined : typeFlag(options.type, 'objectType'),
    name: options.name,
    asOf: options.asOf,
    backup: options.backup,
    targetVault: options.targetVault,
    onConflict: options.onConflict,
    dryRun: options.dryRun === true,
    format: options.format,
    targetName: options.targetName,
  };
  const defined = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
  const parsed = restoreRequestSchema({ resolveVault: (v) => findVault(config, v), now }).safeParse(defined);
  if (!parsed.success) throw flagError(parsed.error);
  return parsed.data;
}

function flagError(error: z.ZodError): KvGuardError {
  const issue = error.issues[0]!;
  const field = String(issue.path[0] ?? 'vault');
  return new KvGuardError('ValidationError', `${FLAG_OF_FIELD[field] ?? field} ${issue.message}`, { field });
}

function render(report: RestoreReport): string {
  const head = `${report.dryRun ? 'dry run: ' : ''}restore ${report.requestId} from ${report.source.name} into ${report.target.name}: ${report.status}`;
  const lines = report.objects.map((o) => {
    const versions = o.versions === undefined ? '' : `  ${o.versions} version(s)`;
    const why = o.reason ? `  ${o.code ? `${o.code}: ` : ''}${o.reason}` : '';
    return `  ${o.outcome.padEnd(9)} ${o.type} ${o.name}  (${o.action}, backup ${o.backup.takenAt})${versions}${why}`;
  });
  const absent = report.absent.map((a) => `  absent    ${a.type} ${a.name}  ${a.reason}`);
  const notCarried = (report.notCarried ?? []).map((n) => `  not carried ${n.type} ${n.name}  ${n.reason}`);
  const counts = Object.entries(report.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return [
    head,
    ...lines,
    ...absent,
    ...notCarried,
    `  ${counts || 'nothing to do'}${report.audit ? `  (audit ${report.audit})` : ''}`,
  ].join('\n');
}

/**
 * Why the command fails, if it does. A dry run fails when the real restore would: a name it would need is taken
 * (refused as a whole under `--on-conflict fail`, or left in conflict under the other policies, since a live object
 * is never overwritten).
 */
function failure(report: RestoreReport): string | undefined {
  if (report.status === 'planned') {
    const taken = report.objects.filter((o) => o.action === 'conflict').length;
    if (taken === 0) return undefined;
    return report.onConflict === 'fail'
      ? `dry run: the restore would be refused: ${taken} name(s) taken and --on-conflict is fail`
      : `dry run: the restore would leave ${taken} object(s) in conflict (a live object is never overwritten)`;
  }
  if (report.status === 'succeeded') return undefined;
  if (report.status === 'conflict')
    return `restore refused: ${report.counts.conflict} name(s) taken and --on-conflict is fail; nothing was changed`;
  return `restore ${report.status}: ${report.counts.failed} failed, ${report.counts.conflict} conflict(s)`;
}
