import type { Command } from 'commander';
import { vaultStatuses, type VaultStatus } from '../../core/backup/status';
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

async function status(vaultOption?: string): Promise<{ vaults: VaultStatus[]; rpoBreached: boolean }> {
  const { config, store, clock, vaultTags } = cliServices();
  const target = vaultFlag(config, vaultOption);
  return vaultStatuses(target ? [target] : config.vaults, store, clock, config.rpoHours, vaultTags);
}

function render({ vaults }: { vaults: VaultStatus[] }): string {
  return vaults
    .map(
      (v) =>
        (v.paused ? `${v.vault}: PAUSED (${v.paused.reason}); ` : '') +
        (v.lastSuccessAt
          ? `${v.vault}: last success ${v.lastSuccessAt} (${v.ageHours} h ago, RPO ${v.rpoHours} h${v.rpoBreached ? ', BREACHED' : ''}); ` +
            `${v.counts?.stored ?? 0} stored, ${v.counts?.unchanged ?? 0} unchanged, ${v.counts?.failed ?? 0} failed`
          : `${v.vault}: no successful backup yet (RPO ${v.rpoHours} h, BREACHED)`),
    )
    .join('\n');
}
