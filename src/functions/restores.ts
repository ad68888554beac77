import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { listRestores, MAX_HISTORY_LIMIT } from '../core/history';
import { strictFields } from '../core/restore/restore-request';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, authorisation, authorise, jsonResponse, parseQuery } from './http';
import { restoreStatusPath } from './restore';

const querySchema = strictFields(
  { limit: z.coerce.number().int().min(1).max(MAX_HISTORY_LIMIT).optional() },
  'GET /api/restores',
);

/** GET /api/restores: every restore request, newest first, from the audit log (a principal with the read or restore role). */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'restores listing', async () => {
    const deps = await services();
    await authorise(request, authorisation(deps, 'read'));
    const { store } = deps;
    const query = parseQuery(request, querySchema);
    const items = await listRestores(store, { limit: query.limit });
    return jsonResponse(200, { items: items.map((i) => ({ ...i, statusUrl: restoreStatusPath(i.requestId) })) });
  });
}

/** The restore history endpoint. */
export const restoresFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'restores',
  route: 'restores',
  methods: ['GET'],
  authLevel: 'function',
  handler,
};
