import type { Command } from 'commander';
import { catalogVaultName, typesOfVault } from '../../config';
import { formatDuration } from '../../core/age';
import {
  DEFAULT_RUNS_PAGE_SIZE,
  listRuns,
  MAX_RUNS_PAGE_SIZE,
  RUN_OUTCOMES,
  runDetails,
  type RunDetails,
  type RunOutcome,
  type RunPage,
} from '../../core/backup/run-history';
import { KvGuardError } from '../../core/errors';
import { cliServices } from '../context';
import { instantFlag } from '../flags';
import { runCommand } from '../output';

interface RunsOptions {
  vault?: string;
  outcome?: string;
  since?: string;
  until?: string;
  limit: string;
  continuationToken?: string;
  json?: boolean;
}

/**
 * `kvguard runs [--vault] [--outcome] [--since] [--until] [--limit] [--continuation-token] [--json]`: the backup runs
 * newest first, like `GET /api/runs`; `kvguard runs show ID [--vault] [--json]` explains each object of one run.
 */
export function registerRuns(program: Command): void {
  const runs = program
    .command('runs')
    .description('Backup runs, newest first (runs show ID: every object of one run)')
    .option('--vault <url>', 'vault URL or name')
    .option('--outcome <outcome>', `only runs that ended so: ${RUN_OUTCOMES.join(', ')}`)
    .option('--since <time>', 'only runs started at or after this ISO time')
    .option('--until <time>', 'only runs started at or before this ISO time')
    .option('--limit <n>', `at most this many runs (1-${MAX_RUNS_PAGE_SIZE})`, String(DEFAULT_RUNS_PAGE_SIZE))
    .option('--continuation-token <token>', 'the next page, as the previous answer gave it')
    .option('--json', 'one JSON document on stdout')
    .action((options: RunsOptions) => runCommand(options, () => list(options), renderList));
  runs
    .command('show <id>')
    .description('One run: each object stored, unchanged or failed (with the reason), bytes, duration, 429s')
    .option('--vault <url>', 'vault URL or name (default: search every vault)')
    .option('--json', 'one JSON document on stdout')
    // `runs` has the same flags; commander hands them to the parent when they follow the subcommand, so both count.
    .action((id: string, options: { vault?: string; json?: boolean }, command: Command) => {
      const parent = command.parent?.opts<{ vault?: string; json?: boolean }>() ?? {};
      const vault = options.vault ?? parent.vault;
      return runCommand({ json: options.json ?? parent.json }, () => show(id, vault), renderRun);
    });
}

async function list(options: RunsOptions): Promise<RunPage> {
  const { config, store } = cliServices();
  if (options.outcome !== undefined && !(RUN_OUTCOMES as readonly string[]).includes(options.outcome)) {
    throw new KvGuardError(
      'ValidationError',
      `--outcome ${JSON.stringify(options.outcome)} must be one of ${RUN_OUTCOMES.join(', ')}`,
      { field: 'outcome' },
    );
  }
  return listRuns(store, {
    vault: options.vault === undefined ? undefined : catalogVaultName(config, options.vault),
    outcome: options.outcome as RunOutcome | undefined,
    since: instantFlag(options.since, '--since', 'since'),
    until: instantFlag(options.until, '--until', 'until'),
    limit: Number(options.limit),
    continuationToken: options.continuationToken,
    typesOf: typesOfVault(config),
  });
}

async function show(id: string, vault: string | undefined): Promise<RunDetails> {
  const { config, store } = cliServices();
  return runDetails(store, id, {
    vault: vault === undefined ? undefined : catalogVaultName(config, vault),
    typesOf: typesOfVault(config),
  });
}

function renderList({ items, continuationToken }: RunPage): string {
  if (items.length === 0) return 'No backup runs recorded.';
  const lines = items.map((r) => {
    const { stored, unchanged, failed, throttled } = r.stats;
    return (
      `${r.startedAt}  ${r.runId}  ${r.vault}  ${r.outcome.toUpperCase().padEnd(10)} ${r.trigger.padEnd(8)} ` +
      `${stored} stored, ${unchanged} unchanged, ${failed} failed, ${throttled} 429s, ${formatDuration(r.stats.durationMs)}` +
      (r.errors.length > 0 ? `  (${r.errors.map((e) => `${e.code}: ${e.reason}`).join('; ')})` : '')
    );
  });
  if (continuationToken) lines.push(`… more: --continuation-token ${continuationToken}`);
  return lines.join('\n');
}

function renderRun(run: RunDetails): string {
  const lines = [
    `Run ${run.runId} of ${run.vault} (${run.trigger}${run.full ? ', full' : ''}): ${run.outcome.toUpperCase()}`,
    `  ${run.startedAt} → ${run.finishedAt} (${formatDuration(run.stats.durationMs)}); ${run.stats.stored} stored, ` +
      `${run.stats.unchanged} unchanged, ${run.stats.failed} failed, ${run.stats.bytes} bytes, ${run.stats.throttled} 429s`,
  ];
  for (const e of run.errors) lines.push(`  job failed: ${e.code}: ${e.reason}`);
  for (const job of run.chunks) {
    const what = job.chunk
      ? `${job.chunk.type}s page ${job.chunk.sequence}${job.chunk.lastPage ? ' (last)' : ''}`
      : job.scope;
    lines.push(
      `  ${what}: ${job.objects.length} object(s), ${formatDuration(job.durationMs)}, ${job.throttled} 429s` +
        (job.error ? `, FAILED ${job.error.code}: ${job.error.reason}` : ''),
    );
    for (const o of job.objects) {
      const detail = o.outcome === 'failed' ? `${o.code}: ${o.reason}` : o.reason;
      lines.push(
        `    ${o.outcome.padEnd(9)} ${o.type} ${o.name} (${o.versionCount} version(s), ${o.durationMs} ms): ${detail}` +
          (o.warning ? ` — ${o.warning}` : ''),
      );
    }
  }
  return lines.join('\n');
}
