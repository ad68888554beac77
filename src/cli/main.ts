import { Command, CommanderError } from 'commander';
import { version } from '../../package.json';
import { KvGuardError } from '../core/errors';
import { commands } from './commands';
import { reportError } from './output';

/** Exits of commander that are not failures. */
const CLEAN_EXITS = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** Builds the `kvguard` command line; each command lives in its own file under `./commands`. */
export function buildProgram(): Command {
  const program = new Command('kvguard')
    .description('Backups for Azure Key Vault: back up, list, verify, restore, watch, and the history of each')
    .version(version, '--version', 'print the kvguard version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`kvguard: ${text.replace(/^error: /, '')}`) });
  for (const register of commands) register(program);
  return program;
}

/** Runs the CLI on `argv` and exits with its status (servers and SDK sockets must not keep it alive). */
export function runCli(argv: string[]): void {
  const json = argv.includes('--json');
  buildProgram()
    .parseAsync(argv)
    .then(() => process.exit(process.exitCode ?? 0))
    .catch((error: unknown) => {
      if (error instanceof CommanderError) {
        if (CLEAN_EXITS.has(error.code)) process.exit(0);
        // commander has printed its one-line reason on stderr already; --json still gets its one document.
        if (json) {
          const message = error.message.replace(/^error: /, '');
          process.stdout.write(`${JSON.stringify({ error: { code: 'ValidationError', message } }, null, 2)}\n`);
        }
        process.exit(error.exitCode || 1);
      }
      reportError(error instanceof Error ? error : new KvGuardError('Internal', String(error)), { json });
      process.exit(1);
    });
}

if (require.main === module) runCli(process.argv);
