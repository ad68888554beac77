import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { readRestoreReport } from '../core/restore/restore-job';
import type { HttpFunctionDefinition } from './definition';
import { authorisation, authorise, answeringErrors, jsonResponse, validationError } from './http';
import { restoreStatusPath } from './restore';

const routeSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'must be a restore request id as POST /api/restore answered it'),
});

/** GET /api/restore/{id}: the progress and outcome of a restore request (a principal with the read or restore role). */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'restore status', async () => {
    const deps = services();
    await authorise(request, authorisation(deps, 'read'));
    const route = routeSchema.safeParse({ id: request.params.id ?? '' });
    if (!route.success) throw validationError(route.error, 'route');
    const report = await readRestoreReport(deps.state, route.data.id);
    return jsonResponse(200, { ...report, statusUrl: restoreStatusPath(report.requestId) });
  });
}

/** The restore progress endpoint. */
export const restoreStatusFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'restoreStatus',
  route: 'restore/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler,
};
