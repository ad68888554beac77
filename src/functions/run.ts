import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { catalogVaultName, typesOfVault } from '../config';
import { runDetails } from '../core/backup/run-history';
import { strictFields } from '../core/restore/restore-request';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, authorisation, authorise, jsonResponse, parseQuery, validationError } from './http';

const routeSchema = z.object({
  id: z.string().regex(/^\d{8}T\d{6}Z-[0-9a-f]{1,16}$/, 'must be a run id as GET /api/runs lists it'),
});

const querySchema = strictFields({ vault: z.string().trim().min(1).max(300).optional() }, 'GET /api/runs/{id}');

/** GET /api/runs/{id}: one run with every job and object (stored, unchanged, failed with the reason). */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'run details', async () => {
    const deps = await services();
    await authorise(request, authorisation(deps, 'read'));
    const { config, store } = deps;
    const route = routeSchema.safeParse({ id: request.params.id ?? '' });
    if (!route.success) throw validationError(route.error, 'route');
    const query = parseQuery(request, querySchema);
    const run = await runDetails(store, route.data.id, {
      vault: query.vault === undefined ? undefined : catalogVaultName(config, query.vault),
      typesOf: typesOfVault(config),
    });
    return jsonResponse(200, run);
  });
}

/** The run details endpoint. */
export const runFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'run',
  route: 'runs/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler,
};
