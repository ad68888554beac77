import type { Command } from 'commander';
import { backupSettings } from '../../composition';
import { backupVaultNow, type RunSummary } from '../../core/backup/runs';
import { describeError } from '../../core/errors';
import { cliServices } from '../context';
import { progressBar, vaultFlag } from '../flags';
import { runCommand } from '../output';

/** What `kvguard backup` reports: one run per vault, or the reason a vault could not be backed up. */
interface BackupReport {
  runs: (RunSummary | { vault: string; error: { code: string; reason: string } })[];
  counts: { stored: number; unchanged: number; failed: number };
  durationMs: number;
}

/** `kvguard backup [--vault URL] [--full] [--json]`: backs up now, in this process. */
export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('Back up now: one vault (--vault) or every configured vault')
    .option('--vault <url>', 'vault URL or name (default: every configured vault)')
    .option('--full', 'store every object again, even when unchanged', false)
    .option('--json', 'one JSON document on stdout')
    .action((options: { vault?: string; full: boolean; json?: boolean }) =>
      runCommand(options, () => backup(options), render, failure),
    );
}

async function backup(options: { vault?: string; full: boolean; json?: boolean }): Promise<BackupReport> {
  const deps = cliServices();
  const vault = vaultFlag(deps.config, options.vault);
  const targets = vault ? [vault] : deps.config.vaults;
  const started = Date.now();
  const report: BackupReport = { runs: [], counts: { stored: 0, unchanged: 0, failed: 0 }, durationMs: 0 };
  for (const target of targets) {
    const bar = progressBar(`${target.name} [{bar}] {value}/{total} objects`, options);
    try {
      const run = await backupVaultNow(target, deps, backupSettings(deps.config), {
        full: options.full,
        onProgress: (done, discovered) => {
          bar?.setTotal(Math.max(discovered, 1));
          bar?.update(done);
        },
      });
      report.runs.push(run);
      report.counts.stored += run.stats.stored;
      report.counts.unchanged += run.stats.unchanged;
      report.counts.failed += run.stats.failed;
    } catch (error) {
      // One vault failing (storage unreachable …) never stops the others.
      report.runs.push({ vault: target.name, error: describeError(error) });
    } finally {
      bar?.stop();
    }
  }
  report.durationMs = Date.now() - started;
  return report;
}

function render(report: BackupReport): string {
  return report.runs
    .map((run) =>
      'error' in run
        ? `${run.vault}: FAILED ${run.error.code}: ${run.error.reason}`
        : `${run.vault}: run ${run.runId} ${run.succeeded ? 'completed' : 'INCOMPLETE'} in ${run.stats.durationMs} ms: ` +
          `${run.stats.stored} stored, ${run.stats.unchanged} unchanged, ${run.stats.failed} failed` +
          (run.summaryBlob ? ` (manifest ${run.summaryBlob})` : '') +
          run.errors.map((e) => `\n  error ${e.code}: ${e.reason}`).join('') +
          run.failures.map((f) => `\n  failed ${f.type} ${f.name}: ${f.code}: ${f.reason}`).join('') +
          run.warnings.map((w) => `\n  warning ${w.type} ${w.name}: ${w.warning}`).join(''),
    )
    .join('\n');
}

function failure(report: BackupReport): string | undefined {
  const bad = report.runs
    .filter((run) => 'error' in run || !run.succeeded || run.stats.failed > 0)
    .map((run) => run.vault);
  return bad.length > 0 ? `backup incomplete for ${bad.join(', ')}` : undefined;
}
