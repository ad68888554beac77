import type { Command } from 'commander';
import { KvGuardError } from '../../core/errors';
import { rewrapVault, type RewrapReport } from '../../core/portable/rewrap';
import { cliServices } from '../context';
import { vaultFlag } from '../flags';
import { runCommand } from '../output';

/** `kvguard rewrap [--vault NAME] [--json]`: every portable export wrapped again under the KEK's current version. */
export function registerRewrap(program: Command): void {
  program
    .command('rewrap')
    .description("Re-wrap portable exports' data keys under the KEK's current version (data untouched)")
    .option('--vault <urlOrName>', 'one vault (default: every vault with portable exports)')
    .option('--json', 'one JSON document on stdout')
    .action((options: { vault?: string; json?: boolean }) =>
      runCommand(options, () => rewrap(options), render, failure),
    );
}

async function rewrap(options: { vault?: string }): Promise<{ vaults: RewrapReport[] }> {
  const deps = cliServices();
  const portable = deps.portable;
  if (!portable?.kekId) {
    throw new KvGuardError('InvalidConfiguration', 'KVGUARD_PORTABLE_KEK is not set: there is no KEK to rewrap under', {
      field: 'KVGUARD_PORTABLE_KEK',
    });
  }
  const one = vaultFlag(deps.config, options.vault);
  const vaults = one ? [one] : deps.config.vaults.filter((v) => v.portable);
  const kek = portable.vaults.keyWrapper(portable.kekId);
  const reports: RewrapReport[] = [];
  for (const vault of vaults)
    reports.push(await rewrapVault({ store: portable.store, kek, clock: deps.clock }, vault.name));
  return { vaults: reports };
}

function render(report: { vaults: RewrapReport[] }): string {
  if (report.vaults.length === 0) return 'no vault has portable exports ("portable": true in KVGUARD_VAULTS)';
  return report.vaults
    .map(
      (v) =>
        `${v.vault}: ${v.rewrapped} rewrapped, ${v.current} already under ${v.kekId}, ${v.failed.length} failed` +
        v.failed.map((f) => `\n  failed ${f.blobName}: ${f.code}: ${f.reason}`).join(''),
    )
    .join('\n');
}

function failure(report: { vaults: RewrapReport[] }): string | undefined {
  const failed = report.vaults.reduce((n, v) => n + v.failed.length, 0);
  return failed > 0 ? `rewrap incomplete: ${failed} envelope(s) failed; keep the old KEK version enabled` : undefined;
}
