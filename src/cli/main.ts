import { Command } from 'commander';
import { commands } from './commands';

/** Builds the `kvguard` command line; each command lives in its own file under `./commands`. */
export function buildProgram(): Command {
  const program = new Command('kvguard')
    .description('Backups for Azure Key Vault: back up, list, verify, restore, watch')
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(`kvguard: ${text.replace(/^error: /, '')}`) });
  for (const register of commands) register(program);
  return program;
}

/** Runs the CLI on `argv` and exits with its status (servers and SDK sockets must not keep it alive). */
export function runCli(argv: string[]): void {
  buildProgram()
    .parseAsync(argv)
    .then(() => process.exit(process.exitCode ?? 0))
    .catch((error: unknown) => {
      process.stderr.write(`kvguard: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
}

if (require.main === module) runCli(process.argv);
