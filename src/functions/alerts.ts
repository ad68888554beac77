import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { MAX_HISTORY_LIMIT, recentAlerts } from '../core/history';
import { strictFields } from '../core/restore/restore-request';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, authorisation, authorise, jsonResponse, parseQuery } from './http';

const querySchema = strictFields(
  { limit: z.coerce.number().int().min(1).max(MAX_HISTORY_LIMIT).optional() },
  'GET /api/alerts',
);

/** GET /api/alerts: recent alerts with their delivery state per sink (pending first, then newest first). */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'alerts listing', async () => {
    const deps = await services();
    await authorise(request, authorisation(deps, 'read'));
    const { alertOutbox, clock } = deps;
    const query = parseQuery(request, querySchema);
    return jsonResponse(200, await recentAlerts(alertOutbox, clock.now(), query.limit));
  });
}

/** The alert history endpoint. */
export const alertsFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'alerts',
  route: 'alerts',
  methods: ['GET'],
  authLevel: 'function',
  handler,
};
