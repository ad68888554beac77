import type { Command } from 'commander';
import { showRestorePoint } from '../../core/browse/compare';
import type { RestorePoint } from '../../core/browse/restore-point';
import { cliServices } from '../context';
import { timeFlag, vaultArgument } from '../flags';
import { runCommand } from '../output';

/** `kvguard show <vault> [--as-of T] [--json]`: a restore point's objects, versions, tags and hashes; never values. */
export function registerShow(program: Command): void {
  program
    .command('show')
    .description('List a restore point: objects, versions, tags and backup hashes (never values)')
    .argument('<vault>', 'vault URL or name')
    .option('--as-of <time>', 'the restore point as of this ISO time (default: now, the newest backups)')
    .option('--json', 'one JSON document on stdout')
    .action((vault: string, options: { asOf?: string; json?: boolean }) =>
      runCommand(
        options,
        async () => {
          const deps = cliServices();
          const asOf = options.asOf === undefined ? undefined : new Date(timeFlag(options.asOf, '--as-of', 'asOf'));
          return showRestorePoint(deps, vaultArgument(deps.config, vault), asOf);
        },
        render,
      ),
    );
}

function render(point: RestorePoint): string {
  const lines = [
    `${point.vault} as of ${point.asOf}: ${point.objects.length} object(s)${point.runId ? ` (run ${point.runId})` : ' (from the catalog: no complete run by then)'}`,
  ];
  for (const o of point.objects) {
    const tags = Object.entries(o.tags ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    lines.push(
      `  ${o.type}/${o.name}  ${o.versions?.length ?? o.backup?.versionCount ?? 0} version(s)${o.enabled === false ? '  disabled' : ''}${o.contentType ? `  ${o.contentType}` : ''}${tags ? `  [${tags}]` : ''}  taken ${o.backup?.takenAt}  sha256:${o.backup?.sha256.slice(0, 16)}…`,
    );
    for (const v of o.versions ?? [])
      lines.push(
        `      ${v.version}  created ${v.createdOn ?? '?'}${v.enabled ? '' : '  disabled'}${v.expiresOn ? `  expires ${v.expiresOn}` : ''}`,
      );
  }
  return lines.join('\n');
}
