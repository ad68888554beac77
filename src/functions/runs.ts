import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { catalogVaultName, typesOfVault } from '../config';
import { listRuns, MAX_RUNS_PAGE_SIZE, RUN_OUTCOMES, type RunOutcome } from '../core/backup/run-history';
import { strictFields } from '../core/restore/restore-request';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, authorisation, authorise, jsonResponse, nextPageLink, parseQuery } from './http';

const dateTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone' });

const querySchema = strictFields(
  {
    vault: z.string().trim().min(1).max(300).optional(),
    outcome: z.enum(RUN_OUTCOMES as [RunOutcome, ...RunOutcome[]]).optional(),
    since: dateTime.optional(),
    until: dateTime.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_RUNS_PAGE_SIZE).optional(),
    continuationToken: z.string().min(1).max(4000).optional(),
  },
  'GET /api/runs',
);

/** GET /api/runs: backup runs newest first, filtered by vault, outcome and start time, one page at a time. */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'runs listing', async () => {
    const deps = await services();
    await authorise(request, authorisation(deps, 'read'));
    const { config, store } = deps;
    const query = parseQuery(request, querySchema);
    const page = await listRuns(store, {
      vault: query.vault === undefined ? undefined : catalogVaultName(config, query.vault),
      outcome: query.outcome,
      since: query.since === undefined ? undefined : new Date(query.since),
      until: query.until === undefined ? undefined : new Date(query.until),
      limit: query.limit,
      continuationToken: query.continuationToken,
      typesOf: typesOfVault(config),
    });
    const token = page.continuationToken;
    return jsonResponse(200, {
      items: page.items,
      ...(token ? { continuationToken: token, nextLink: nextPageLink('/api/runs', query, token) } : {}),
    });
  });
}

/** The run history endpoint. */
export const runsFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'runs',
  route: 'runs',
  methods: ['GET'],
  authLevel: 'function',
  handler,
};
