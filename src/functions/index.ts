import { backupVaultFunction } from './backup-vault';
import type { FunctionDefinition } from './definition';
import { scheduleBackupsFunction } from './schedule-backups';
import { statusFunction } from './status';

/**
 * Every function kvguard defines. The Azure Functions entry point (`src/index.ts`) and the local dev host both
 * register exactly this list, so what runs locally is what runs in Azure.
 */
export const functionDefinitions: FunctionDefinition[] = [
  scheduleBackupsFunction,
  backupVaultFunction,
  statusFunction,
];
