import type { Command } from 'commander';
import { applyRetention, type RetentionPass } from '../../core/retention/apply';
import { KvGuardError } from '../../core/errors';
import { cliServices } from '../context';
import { vaultFlag } from '../flags';
import { runCommand } from '../output';

interface RetentionOptions {
  plan?: boolean;
  apply?: boolean;
  vault?: string;
  json?: boolean;
}

/** What `kvguard retention` answers: per vault, the plan, and with `--apply` what was marked. */
interface RetentionAnswer {
  vaults: RetentionPass[];
}

/**
 * `kvguard retention --plan [--vault] [--json]`: what retention would let go and why, per vault; changes nothing.
 * `--apply` also tags those blobs `kvguard-prunable=true` for the storage lifecycle rule (kvguard never deletes).
 */
export function registerRetention(program: Command): void {
  program
    .command('retention')
    .description('Show what retention lets go and why (--plan); --apply marks it for the storage lifecycle rule')
    .option('--plan', 'show the plan, change nothing')
    .option('--apply', 'tag the prunable blobs kvguard-prunable=true (kvguard never deletes)')
    .option('--vault <url>', 'vault URL or name (default: every configured vault)')
    .option('--json', 'one JSON document on stdout')
    .action((options: RetentionOptions) =>
      runCommand(
        options,
        () => retention(options),
        render,
        (answer) => {
          const failed = answer.vaults.flatMap((v) => v.marks?.failed ?? []);
          return failed.length > 0 ? `${failed.length} blob(s) could not be marked: ${failed[0]!.reason}` : undefined;
        },
      ),
    );
}

async function retention(options: RetentionOptions): Promise<RetentionAnswer> {
  if (!options.plan && !options.apply) {
    throw new KvGuardError('ValidationError', 'give --plan (show what would be pruned) or --apply (mark it)', {
      field: 'plan',
    });
  }
  const { config, store, clock, pruneMarks } = cliServices();
  const target = vaultFlag(config, options.vault);
  if (options.apply && !pruneMarks) {
    throw new KvGuardError(
      'InvalidConfiguration',
      'pruning is off (KVGUARD_PRUNING=false): nothing may be tagged; --plan shows what retention would let go',
      { field: 'KVGUARD_PRUNING' },
    );
  }
  const marks = options.apply ? pruneMarks : undefined;
  return { vaults: await applyRetention(target ? [target] : config.vaults, { store, marks, clock }) };
}

function render({ vaults }: RetentionAnswer): string {
  const lines: string[] = [];
  for (const v of vaults) {
    const limits = Object.entries(v.retention)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    lines.push(
      `${v.vault} (${limits || 'no retention limit'}): ${v.totals.backups} backup(s), keep ${v.totals.keep}, prune ${v.totals.prune} (${v.totals.pruneBytes} B)${v.marks ? `; marked ${v.marks.marked}` : ''}`,
    );
    for (const o of v.objects)
      for (const p of o.prune) lines.push(`  prune ${o.type}/${o.name}  ${p.takenAt}  ${p.blobName}  — ${p.reason}`);
  }
  return lines.join('\n');
}
