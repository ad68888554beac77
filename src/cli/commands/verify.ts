import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { KvGuardError } from '../../core/errors';
import { restoreSettingsFor } from '../../core/restore/restore-settings';
import { drillSummary, runRestoreDrill, verifyBackups, type DrillReport, type VerifyReport } from '../../core/verify';
import { cliServices } from '../context';
import { typeFlag, vaultFlag } from '../flags';
import { runCommand } from '../output';

interface VerifyOptions {
  vault?: string;
  type?: string;
  drill?: boolean;
  scratchVault?: string;
  sample?: string;
  json?: boolean;
}

type VerifyResult = { kind: 'hashes'; report: VerifyReport } | { kind: 'drill'; report: DrillReport };

/**
 * `kvguard verify [--vault] [--type] [--json]`: recomputes every stored blob's SHA-256 against the catalog.
 * `kvguard verify --drill --scratch-vault URL [--sample N]`: restores a sample into a scratch vault, checks every
 * version came back, then deletes and purges the copies.
 */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('Check stored backups: SHA-256 against the catalog, or (--drill) restorability into a scratch vault')
    .option('--vault <urlOrName>', 'only this configured vault')
    .option('--type <type>', 'only key, secret or certificate backups (hash check)')
    .option('--drill', 'restore a sample into a scratch vault, check it, delete and purge it')
    .option('--scratch-vault <url>', 'scratch vault for --drill (default KVGUARD_SCRATCH_VAULT); no purge protection')
    .option('--sample <n>', 'objects a drill restores (default KVGUARD_DRILL_SAMPLE)')
    .option('--json', 'one JSON document on stdout')
    .action((options: VerifyOptions) => runCommand(options, () => verify(options), render, failure));
}

async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const deps = cliServices();
  const vault = vaultFlag(deps.config, options.vault);
  const settings = restoreSettingsFor('cli', deps.config.runDeadlineSeconds);
  if (!options.drill) {
    const type = options.type === undefined ? undefined : typeFlag(options.type);
    const deadline = new Date(deps.clock.now().getTime() + settings.deadlineSeconds * 1000);
    return { kind: 'hashes', report: await verifyBackups(deps, { vault: vault?.name, type }, { deadline }) };
  }
  const scratchVaultUrl = options.scratchVault ?? deps.config.scratchVault;
  if (!scratchVaultUrl || !URL.canParse(scratchVaultUrl)) {
    throw new KvGuardError(
      'ValidationError',
      `--drill needs --scratch-vault <url> (or KVGUARD_SCRATCH_VAULT); got ${JSON.stringify(scratchVaultUrl ?? '')}`,
      {
        field: 'scratchVault',
      },
    );
  }
  const sample = options.sample === undefined ? deps.config.drillSample : Number(options.sample);
  if (!Number.isInteger(sample) || sample < 1) {
    throw new KvGuardError('ValidationError', `--sample ${JSON.stringify(options.sample)} must be a positive integer`, {
      field: 'sample',
    });
  }
  const report = await runRestoreDrill(deps, {
    sources: vault ? [vault] : deps.config.vaults,
    scratchVaultUrl,
    sample,
    principal: `cli:${userInfo().username}`,
    deadlineSeconds: settings.deadlineSeconds,
    purgeSettleSeconds: settings.purgeSettleSeconds,
  });
  return { kind: 'drill', report };
}

function render(result: VerifyResult): string {
  if (result.kind === 'hashes') {
    const r = result.report;
    const lines = r.failed.map((f) => `  FAILED ${f.vault}/${f.type}/${f.name} ${f.blobName}: ${f.code}: ${f.reason}`);
    return [
      `verify: ${r.status}: ${r.passed} of ${r.checked} backup blobs match the catalog (${r.bytes} bytes, ${r.durationMs} ms)`,
      ...lines,
    ].join('\n');
  }
  const r = result.report;
  const lines = r.objects.map((o) => {
    const what = `  ${o.outcome.padEnd(6)} ${o.vault}/${o.type}/${o.name}`;
    const reason = o.reason ? `  ${o.code}: ${o.reason}` : '';
    if (!o.restored) return `${what}  not restored${reason}`;
    const versions = `${o.restoredVersions ?? '?'}/${o.expectedVersions} version(s)`;
    return `${what}  ${versions}${o.cleanedUp ? '' : '  scratch copy NOT cleaned up'}${reason}`;
  });
  return [drillSummary(r), ...lines].join('\n');
}

function failure(result: VerifyResult): string | undefined {
  const r = result.report;
  if (result.kind === 'hashes')
    return r.status === 'passed'
      ? undefined
      : `verify ${r.status}: ${result.report.failed.length} blob(s) do not match the catalog`;
  return result.report.status === 'failed' ? drillSummary(result.report) : undefined;
}
