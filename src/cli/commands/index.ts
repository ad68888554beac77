import type { Command } from 'commander';
import { registerBackup } from './backup';
import { registerList } from './list';
import { registerStatus } from './status';
import { registerWatch } from './watch';
import { registerRestore } from './restore';
import { registerVerify } from './verify';
import { registerRuns } from './runs';
import { registerAlerts, registerRestores } from './history';

/** Adds one command to the program. */
export type RegisterCommand = (program: Command) => void;

/** Every CLI command, in help order. */
export const commands: RegisterCommand[] = [
  registerBackup,
  registerList,
  registerStatus,
  registerWatch,
  registerRestore,
  registerVerify,
  registerRuns,
  registerRestores,
  registerAlerts,
];
