import type { Command } from 'commander';
import { watchDeletions, type WatchFinding, type WatchSummary } from '../../core/watch-deletions';
import { cliServices } from '../context';
import { vaultFlag } from '../flags';
import { runCommand } from '../output';

/** `kvguard watch --once [--vault] [--json]`: one deletion-watcher run, alerts included. Exits 1 if a vault failed. */
export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description('Detect deleted, purged and vanished objects since the last run, and alert on them')
    .requiredOption('--once', 'run the watcher once (the deployed timer runs it on KVGUARD_WATCH_SCHEDULE)')
    .option('--vault <url>', 'vault URL or name (default: every configured vault)')
    .option('--json', 'one JSON document on stdout')
    .action((options: { vault?: string; json?: boolean }) =>
      runCommand(
        options,
        () => watchOnce(options.vault),
        render,
        (summary) => {
          const failed = summary.vaults.filter((v) => v.status === 'failed');
          return failed.length > 0
            ? `watch failed for ${failed.map((v) => `${v.vault} (${v.error?.reason})`).join(', ')}`
            : undefined;
        },
      ),
    );
}

async function watchOnce(vaultOption?: string): Promise<WatchSummary> {
  const { config, vaults, store, state, alerts, logger, clock } = cliServices();
  const target = vaultFlag(config, vaultOption);
  return watchDeletions({
    vaults: target ? [target] : config.vaults,
    open: vaults,
    store,
    state,
    alerts,
    logger,
    clock,
  });
}

function render(summary: WatchSummary): string {
  const lines: string[] = [];
  for (const v of summary.vaults) {
    if (v.status === 'failed') {
      lines.push(`${v.vault}: FAILED ${v.error?.code}: ${v.error?.reason}`);
      continue;
    }
    const quiet = v.deleted.length + v.purged.length + v.vanished.length + v.recovered.length === 0;
    lines.push(
      `${v.vault}: ${v.live} live, ${v.softDeleted} soft-deleted${v.baseline ? ' (first run: baseline recorded)' : ''}${quiet ? ', no changes' : ''}`,
    );
    for (const f of v.deleted)
      lines.push(`  deleted   ${describe(f)}; purge scheduled ${f.scheduledPurgeDate ?? 'unknown'}`);
    for (const f of v.purged) lines.push(`  PURGED    ${describe(f)}`);
    for (const f of v.vanished) lines.push(`  VANISHED  ${describe(f)}`);
    for (const f of v.recovered) lines.push(`  recovered ${f.type} ${f.name}`);
    for (const a of v.alerts) lines.push(`  alert     ${a.type} (${a.severity}) ${a.subject}: ${deliveryText(a)}`);
  }
  return lines.join('\n');
}

function describe(f: WatchFinding): string {
  const backup = f.newestBackupAt ? `newest backup ${f.newestBackupAt} (${f.newestBackupAge} old)` : 'no backup held';
  return `${f.type} ${f.name}${f.deletedOn ? ` deleted ${f.deletedOn}` : ''}; ${backup}`;
}

function deliveryText(a: WatchSummary['vaults'][number]['alerts'][number]): string {
  if (!a.new) return 'raised before';
  if (a.status === 'delivered') return `delivered to ${a.delivered.join(', ') || 'no sink'}`;
  if (a.status === 'parked') return 'parked (see kvguard alerts)';
  const to = a.waiting.length > 0 ? ` for ${a.waiting.join(', ')}` : '';
  return `in the outbox${to}; the deployment's alert timer delivers it`;
}
