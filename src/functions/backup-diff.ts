import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../composition';
import { findVault } from '../config';
import { diffQueryShape, diffVault } from '../core/browse/compare';
import { KvGuardError } from '../core/errors';
import { strictFields } from '../core/restore/restore-request';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, jsonResponse, parseQuery } from './http';

const querySchema = strictFields(diffQueryShape, 'GET /api/backups/{vault}/diff');

/**
 * GET /api/backups/{vault}/diff?asOf=…&(to=…|live=true): objects and versions added, removed, changed (attributes
 * or tags) and deleted between a restore point and a later one or the live vault. Never values.
 */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'backup diff', async () => {
    const deps = await services();
    const query = parseQuery(request, querySchema);
    const name = request.params.vault ?? '';
    const target = findVault(deps.config, name);
    if (!target) {
      throw new KvGuardError('NotFound', `vault ${JSON.stringify(name.slice(0, 100))} is not configured`, {
        field: 'vault',
      });
    }
    return jsonResponse(200, await diffVault(deps, target, query));
  });
}

/** The restore-point diff endpoint. */
export const backupDiffFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'backupDiff',
  route: 'backups/{vault}/diff',
  methods: ['GET'],
  authLevel: 'function',
  handler,
};
