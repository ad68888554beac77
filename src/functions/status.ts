import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { findVault } from '../config';
import { vaultStatuses } from '../core/backup/status';
import { KvGuardError } from '../core/errors';
import { alertSummary } from '../core/history';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, authorisation, authorise, jsonResponse, parseQuery } from './http';

const querySchema = z.object({ vault: z.string().min(1).max(200).optional() }).strict();

/**
 * GET /api/status: per vault, the newest successful run, its age, counts and whether the RPO is breached; and the
 * alerts not delivered yet (pending or parked).
 */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'status', async () => {
    const deps = await services();
    await authorise(request, authorisation(deps, 'read'));
    const { config, store, clock, vaultTags, alertOutbox } = deps;
    const query = parseQuery(request, querySchema);
    const vault = query.vault === undefined ? undefined : findVault(config, query.vault);
    if (query.vault !== undefined && !vault) {
      throw new KvGuardError('ValidationError', `vault ${JSON.stringify(query.vault)} is not configured`, {
        field: 'vault',
      });
    }
    const [statuses, alerts] = await Promise.all([
      vaultStatuses(vault ? [vault] : config.vaults, store, clock, config.rpoHours, vaultTags),
      alertSummary(alertOutbox, clock.now()),
    ]);
    return jsonResponse(200, { ...statuses, alerts });
  });
}

/** The status endpoint. */
export const statusFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'status',
  route: 'status',
  methods: ['GET'],
  authLevel: 'function',
  handler,
};
