import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../composition';
import { findVault } from '../config';
import { describeError } from '../core/errors';
import { auditRefusedRestore } from '../core/restore/restore-audit';
import type { RestoreReport, RestoreStatus } from '../core/restore/restore-report';
import { restoreRequestSchema } from '../core/restore/restore-request';
import { requestRestore } from '../core/restore/request-restore';
import { restoreSettingsFor } from '../core/restore/restore-settings';
import type { HttpFunctionDefinition } from './definition';
import {
  answeringErrors,
  authenticate,
  authorisation,
  errorResponse,
  jsonResponse,
  parseJsonBody,
  requireRole,
} from './http';
import { invocationLogger } from './invocation-logger';

/** HTTP status of a restore report: 207 whenever any object did not come back; 202 for a queued job. */
const HTTP_STATUS: Record<RestoreStatus, number> = {
  queued: 202,
  running: 202,
  planned: 200,
  succeeded: 200,
  partial: 207,
  failed: 207,
  conflict: 409,
};

/** Where the progress of a restore request is served. */
export function restoreStatusPath(requestId: string): string {
  return `/api/restore/${encodeURIComponent(requestId)}`;
}

/**
 * The response for a restore report: the report itself as the body; a queued job also gets `statusUrl` and
 * `Location` pointing at `GET /api/restore/{id}` (requests answered at once are not kept there: see the audit log).
 */
export function restoreResponse(report: RestoreReport): HttpResponseInit {
  const status = HTTP_STATUS[report.status];
  if (status !== 202) return jsonResponse(status, report);
  const statusUrl = restoreStatusPath(report.requestId);
  return jsonResponse(status, { ...report, statusUrl }, { location: statusUrl });
}

/** POST /api/restore: authorise, validate the body, restore (or plan, or queue), answer per-object outcomes. */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'restore', async (requestId) => {
    const deps = { ...(await services()), logger: invocationLogger(context) };
    let principal: string | undefined;
    let inUseCase = false;
    try {
      const access = authorisation(deps, 'restore');
      const caller = await authenticate(request, access);
      principal = caller.name;
      requireRole(caller, access.roles);
      const schema = restoreRequestSchema({ resolveVault: (v) => findVault(deps.config, v), now: deps.clock.now() });
      const body = await parseJsonBody(request, schema);
      inUseCase = true;
      const report = await requestRestore(
        deps,
        body,
        { principal, requestId, allowJob: true },
        restoreSettingsFor('http', deps.config.runDeadlineSeconds),
      );
      return restoreResponse(report);
    } catch (error) {
      // Refusals before the use case (no principal, bad body) are audited here; the use case audits the rest. A
      // caller refused before its token was verified is audited as unauthenticated: an unverified name is not kept.
      if (!inUseCase) await auditRefusedRestore(deps, { principal, requestId, error });
      deps.logger.warn('restore request not carried out', { requestId, principal, ...describeError(error) });
      return errorResponse(error, requestId);
    }
  });
}

/** The restore endpoint. */
export const restoreFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'restore',
  route: 'restore',
  methods: ['POST'],
  authLevel: 'function',
  handler,
};
