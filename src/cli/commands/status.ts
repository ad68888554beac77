import type { Command } from 'commander';
import { vaultStatuses, type VaultStatus } from '../../core/backup/status';
import { ageOf } from '../../core/age';
import { alertSummary, type AlertSummary } from '../../core/history';
import { cliServices } from '../context';
import { vaultFlag } from '../flags';
import { runCommand } from '../output';

/** `kvguard status [--vault] [--json]`: per vault, last success, age, counts, RPO breach. Exits 1 on a breach. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Per vault: newest successful backup, its age, counts and RPO breach')
    .option('--vault <url>', 'vault URL or name')
    .option('--json', 'one JSON document on stdout')
    .action((options: { vault?: string; json?: boolean }) =>
      runCommand(
        options,
        () => status(options.vault),
        render,
        (result) =>
          result.rpoBreached
            ? `RPO breached for ${result.vaults
                .filter((v) => v.rpoBreached)
                .map((v) => v.vault)
                .join(', ')}`
            : undefined,
      ),
    );
}

interface StatusResult {
  checkedAt: string;
  vaults: VaultStatus[];
  rpoBreached: boolean;
  alerts: AlertSummary;
}

async function status(vaultOption?: string): Promise<StatusResult> {
  const { config, store, clock, alertOutbox, vaultTags } = cliServices();
  const target = vaultFlag(config, vaultOption);
  const [statuses, alerts] = await Promise.all([
    vaultStatuses(target ? [target] : config.vaults, store, clock, config.rpoHours, vaultTags),
    alertSummary(alertOutbox, clock.now()),
  ]);
  return { checkedAt: clock.now().toISOString(), ...statuses, alerts };
}

function render({ checkedAt, vaults, alerts }: StatusResult): string {
  const now = new Date(checkedAt);
  const lines = vaults.map(
    (v) =>
      (v.paused ? `${v.vault}: PAUSED (${v.paused.reason}); ` : '') +
      (v.lastSuccessAt
        ? `${v.vault}: last success ${v.lastSuccessAt} (${ageOf(v.lastSuccessAt, now)} ago, RPO ${v.rpoHours} h${v.rpoBreached ? ', BREACHED' : ''}); ` +
          `${v.counts?.stored ?? 0} stored, ${v.counts?.unchanged ?? 0} unchanged, ${v.counts?.failed ?? 0} failed`
        : `${v.vault}: no successful backup yet (RPO ${v.rpoHours} h, BREACHED)`),
  );
  if (alerts.pending + alerts.parked > 0) {
    lines.push(`alerts: ${alerts.pending} pending delivery, ${alerts.parked} parked (kvguard alerts)`);
    for (const a of alerts.undelivered)
      lines.push(
        `  ${a.status.toUpperCase()} ${a.type} ${a.subject} (${a.age} ago)${a.parkedReason ? `: ${a.parkedReason}` : ''}`,
      );
  }
  return lines.join('\n');
}
