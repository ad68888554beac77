import type { Command } from 'commander';
import { doctorSettings } from '../../composition';
import { doctorDependencies } from '../../composition-adapters';
import { runDoctor, type DoctorReport } from '../../core/doctor';
import { cliServices } from '../context';
import { runCommand } from '../output';

const MARK = { pass: 'ok  ', warn: 'warn', fail: 'FAIL', unknown: '?   ' } as const;

/** `kvguard doctor [--send-test-alert] [--json]`: checks the deployment; exits 1 when a check fails. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('Check vault access, WORM storage, queues, alert sinks and telemetry; each check with its fix')
    .option('--send-test-alert', 'also deliver a test alert through every configured sink')
    .option('--json', 'one JSON document on stdout')
    .action((options: { sendTestAlert?: boolean; json?: boolean }) =>
      runCommand(
        options,
        () => {
          const services = cliServices();
          return runDoctor(
            doctorSettings(services.config, options.sendTestAlert === true),
            doctorDependencies(services),
          );
        },
        render,
        (report) => (report.ok ? undefined : `${report.counts.fail} check(s) failed`),
      ),
    );
}

function render(report: DoctorReport): string {
  const lines = report.checks.map(
    (c) =>
      `${MARK[c.outcome]} ${c.check} ${c.subject}: ${c.detail}${c.fix && c.outcome !== 'pass' ? `\n     fix: ${c.fix}` : ''}`,
  );
  const { pass, warn, fail, unknown } = report.counts;
  return [...lines, `${pass} passed, ${warn} warned, ${fail} failed, ${unknown} unknown here`].join('\n');
}
