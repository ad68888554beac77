import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { findVault } from '../config';
import { vaultStatus } from '../core/backup/status';
import { KvGuardError } from '../core/errors';
import type { HttpFunctionDefinition } from './definition';
import { errorResponse, jsonResponse, parseQuery } from './http';

const querySchema = z.object({ vault: z.string().min(1).max(200).optional() }).strict();

/** GET /api/status: per vault, the newest successful run, its age, counts and whether the RPO is breached. */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { config, store, clock } = services();
    const query = parseQuery(request, querySchema);
    const vaults = query.vault ? [findVault(config, query.vault)] : config.vaults;
    if (vaults.some((v) => v === undefined)) {
      throw new KvGuardError('ValidationError', `vault ${JSON.stringify(query.vault)} is not configured`, { field: 'vault' });
    }
    const statuses = await Promise.all(vaults.map((vault) => vaultStatus(vault!, store, clock, config.rpoHours)));
    return jsonResponse(200, { vaults: statuses, rpoBreached: statuses.some((s) => s.rpoBreached) });
  } catch (error) {
    context.error(`status failed: ${error instanceof Error ? error.message : String(error)}`);
    return errorResponse(error);
  }
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
