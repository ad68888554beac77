import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { isKvGuardError } from '../core/errors';
import { auditedRestore } from '../core/history';
import { readRestoreReport } from '../core/restore/restore-job';
import type { HttpFunctionDefinition } from './definition';
import { authorisation, authorise, answeringErrors, jsonResponse, validationError } from './http';
import { restoreStatusPath } from './restore';

const routeSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'must be a restore request id as POST /api/restore answered it'),
});

/**
 * GET /api/restore/{id}: the progress and outcome of a restore request (a principal with the read or restore role): a
 * queued request's report, else what the audit log holds (synchronous restores, refused requests).
 */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'restore status', async () => {
    const deps = await services();
    await authorise(request, authorisation(deps, 'read'));
    const { state, store } = deps;
    const route = routeSchema.safeParse({ id: request.params.id ?? '' });
    if (!route.success) throw validationError(route.error, 'route');
    const report = await readRestoreReport(state, route.data.id).catch((error: unknown) => {
      if (isKvGuardError(error, 'NotFound')) return undefined;
      throw error;
    });
    if (report) return jsonResponse(200, { ...report, statusUrl: restoreStatusPath(report.requestId) });
    // A synchronous restore never had a queued job's progress: its audit records tell what it did.
    const audited = await auditedRestore(store, route.data.id);
    return jsonResponse(200, { ...audited, status: audited.outcome, statusUrl: restoreStatusPath(audited.requestId) });
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
