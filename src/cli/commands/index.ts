import type { Command } from 'commander';
import { registerBackup } from './backup';
import { registerDoctor } from './doctor';
import { registerList } from './list';
import { registerStatus } from './status';
import { registerWatch } from './watch';
import { registerRestore } from './restore';
import { registerRewrap } from './rewrap';
import { registerVerify } from './verify';
import { registerShow } from './show';
import { registerDiff } from './diff';
import { registerRetention } from './retention';
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
  registerRewrap,
  registerVerify,
  registerShow,
  registerDiff,
  registerRetention,
  registerDoctor,
  registerRuns,
  registerRestores,
  registerAlerts,
];
