import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../composition';
import { dashboardData } from '../core/dashboard';
import { strictFields } from '../core/restore/restore-request';
import { renderDashboard } from './dashboard-page';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, authorisation, authorise, parseQuery } from './http';
import { invocationLogger } from './invocation-logger';

const querySchema = strictFields({}, 'GET /api/dashboard');

/** The page allows its own inline style and nothing else: no script, no frame, no resource from elsewhere. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** GET /api/dashboard: the status page (HTML) — backup age against RPO, runs, alerts, restores, the last drill. */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'dashboard', async () => {
    const deps = await services();
    await authorise(request, authorisation(deps, 'read'));
    const { config, store, alertOutbox, clock, vaultTags } = deps;
    parseQuery(request, querySchema);
    const data = await dashboardData({
      vaults: config.vaults,
      store,
      outbox: alertOutbox,
      clock,
      logger: invocationLogger(context),
      rpoHours: config.rpoHours,
      vaultTags,
    });
    return {
      status: 200,
      body: renderDashboard(data),
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      },
    };
  });
}

/** The status page endpoint. */
export const dashboardFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'dashboard',
  route: 'dashboard',
  methods: ['GET'],
  authLevel: 'function',
  handler,
};
