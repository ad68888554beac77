import type { Command } from 'commander';
import { diffVault } from '../../core/browse/compare';
import type { RestorePointDiff } from '../../core/browse/diff';
import { cliServices } from '../context';
import { timeFlag, vaultArgument } from '../flags';
import { runCommand } from '../output';

interface DiffOptions {
  asOf: string;
  to?: string;
  live?: boolean;
  json?: boolean;
}

/**
 * `kvguard diff <vault> --as-of T [--to T2 | --live] [--json]`: what was added, deleted and changed since a restore
 * point — the same fields and answer as `GET /api/backups/{vault}/diff`.
 */
export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description(
      'Compare a restore point with a later one or with the live vault (names, versions, tags; never values)',
    )
    .argument('<vault>', 'vault URL or name')
    .requiredOption('--as-of <time>', 'the earlier restore point (ISO time)')
    .option('--to <time>', 'the later restore point (ISO time; default: now, the newest backups)')
    .option('--live', 'compare with the vault as it is now')
    .option('--json', 'one JSON document on stdout')
    .action((vault: string, options: DiffOptions) =>
      runCommand(
        options,
        async () => {
          const deps = cliServices();
          return diffVault(deps, vaultArgument(deps.config, vault), {
            asOf: timeFlag(options.asOf, '--as-of', 'asOf'),
            ...(options.to !== undefined ? { to: timeFlag(options.to, '--to', 'to') } : {}),
            ...(options.live ? { live: true } : {}),
          });
        },
        render,
      ),
    );
}

function render(diff: RestorePointDiff): string {
  const lines = [
    `${diff.vault}: ${diff.from.asOf} → ${diff.to.basis === 'live' ? 'live' : diff.to.asOf}: ${diff.added.length} added, ${diff.deleted.length} deleted, ${diff.changed.length} changed, ${diff.unchanged} unchanged`,
  ];
  for (const o of diff.added) lines.push(`  + ${o.type}/${o.name} (${o.versions} version(s))`);
  for (const o of diff.deleted) lines.push(`  - ${o.type}/${o.name} (${o.versions} version(s))`);
  for (const c of diff.changed) {
    lines.push(`  ~ ${c.type}/${c.name}`);
    for (const v of c.versionsAdded) lines.push(`      + version ${v}`);
    for (const v of c.versionsRemoved) lines.push(`      - version ${v}`);
    for (const a of c.changes)
      lines.push(`      ${a.version ? `${a.version} ` : ''}${a.field}: ${a.from ?? '(none)'} → ${a.to ?? '(none)'}`);
  }
  return lines.join('\n');
}
