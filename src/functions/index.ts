import { backupVaultFunction } from './backup-vault';
import { doctorFunction } from './doctor';
import { deliverAlertsFunction } from './deliver-alerts';
import { alertsFunction } from './alerts';
import { dashboardFunction } from './dashboard';
import { restoresFunction } from './restores';
import { runFunction } from './run';
import { runsFunction } from './runs';
import type { FunctionDefinition } from './definition';
import { scheduleBackupsFunction } from './schedule-backups';
import { statusFunction } from './status';
import { vaultEventsFunction } from './vault-events';
import { watchDeletionsFunction } from './watch-deletions';
import { applyRetentionFunction } from './apply-retention';
import { backupDiffFunction } from './backup-diff';
import { backupsFunction } from './backups';
import { restoreFunction } from './restore';
import { restoreDrillFunction } from './restore-drill';
import { restoreJobFunction } from './restore-job';
import { restoreStatusFunction } from './restore-status';

/**
 * Every function kvguard defines. The Azure Functions entry point (`src/index.ts`) and the local dev host both
 * register exactly this list, so what runs locally is what runs in Azure.
 */
export const functionDefinitions: FunctionDefinition[] = [
  scheduleBackupsFunction,
  backupVaultFunction,
  statusFunction,
  vaultEventsFunction,
  watchDeletionsFunction,
  restoreFunction,
  restoreStatusFunction,
  restoreJobFunction,
  backupsFunction,
  backupDiffFunction,
  applyRetentionFunction,
  restoreDrillFunction,
  doctorFunction,
  deliverAlertsFunction,
  runsFunction,
  runFunction,
  restoresFunction,
  alertsFunction,
  dashboardFunction,
];
