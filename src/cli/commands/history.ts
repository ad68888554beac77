import type { Command } from 'commander';
import { ageOf } from '../../core/age';
import {
  DEFAULT_HISTORY_LIMIT,
  listRestores,
  MAX_HISTORY_LIMIT,
  recentAlerts,
  type AlertHistory,
  type RestoreHistoryItem,
} from '../../core/history';
import { cliServices } from '../context';
import { runCommand } from '../output';

/** `kvguard restores [--limit] [--json]`: every restore request, newest first, from the audit log. */
export function registerRestores(program: Command): void {
  program
    .command('restores')
    .description('Restore requests, newest first, from the audit log (synchronous ones too)')
    .option('--limit <n>', `at most this many (1-${MAX_HISTORY_LIMIT})`, String(DEFAULT_HISTORY_LIMIT))
    .option('--json', 'one JSON document on stdout')
    .action((options: { limit: string; json?: boolean }) =>
      runCommand(
        options,
        async () => {
          const { store, clock } = cliServices();
          return {
            listedAt: clock.now().toISOString(),
            items: await listRestores(store, { limit: Number(options.limit) }),
          };
        },
        renderRestores,
      ),
    );
}

/** `kvguard alerts [--limit] [--json]`: recent alerts with their delivery state per sink. */
export function registerAlerts(program: Command): void {
  program
    .command('alerts')
    .description('Recent alerts and where their delivery stands (pending, delivered, parked)')
    .option('--limit <n>', `at most this many (1-${MAX_HISTORY_LIMIT})`, String(DEFAULT_HISTORY_LIMIT))
    .option('--json', 'one JSON document on stdout')
    .action((options: { limit: string; json?: boolean }) =>
      runCommand(
        options,
        async () => {
          const { alertOutbox, clock } = cliServices();
          return recentAlerts(alertOutbox, clock.now(), Number(options.limit));
        },
        renderAlerts,
      ),
    );
}

function renderRestores({ listedAt, items }: { listedAt: string; items: RestoreHistoryItem[] }): string {
  if (items.length === 0) return 'No restore requests recorded.';
  const now = new Date(listedAt);
  return items
    .map((r) => {
      const counts = Object.entries(r.counts)
        .map(([outcome, n]) => `${n} ${outcome}`)
        .join(', ');
      return (
        `${r.at} (${ageOf(r.at, now)} ago)  ${r.requestId}  ${r.source.vault} → ${r.target.vault}` +
        `${r.dryRun ? ' (dry run)' : ''}  ${r.outcome}  by ${r.principal}${counts ? `; ${counts}` : ''}`
      );
    })
    .join('\n');
}

function renderAlerts({ pending, parked, items }: AlertHistory): string {
  if (items.length === 0) return 'No alerts recorded.';
  const lines = [`${items.length} recent alert(s): ${pending} pending, ${parked} parked`];
  for (const a of items) {
    const sinks = Object.entries(a.deliveries)
      .map(([sink, d]) => `${sink} ${d.status}${d.status === 'failed' ? ` (${d.attempts} attempts: ${d.error})` : ''}`)
      .join(', ');
    lines.push(
      `${a.recordedAt} (${a.age} ago)  ${a.status.toUpperCase().padEnd(9)} ${a.type} ${a.severity}  ${a.subject}`,
    );
    lines.push(`    ${a.summary}`);
    if (sinks) lines.push(`    sinks: ${sinks}`);
    if (a.parkedReason) lines.push(`    parked: ${a.parkedReason}`);
  }
  return lines.join('\n');
}
