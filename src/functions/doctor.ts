import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { doctorDependencies, doctorSettings, services } from '../composition';
import { runDoctor } from '../core/doctor';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, jsonResponse, parseQuery } from './http';
import { invocationLogger } from './invocation-logger';

const querySchema = z.object({ sendTestAlert: z.enum(['true', 'false']).optional() }).strict();

/** GET /api/doctor[?sendTestAlert=true]: every deployment check with pass / warn / fail / unknown and the fix. */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'doctor', async () => {
    const query = parseQuery(request, querySchema);
    const deps = { ...(await services()), logger: invocationLogger(context) };
    const report = await runDoctor(
      doctorSettings(deps.config, query.sendTestAlert === 'true'),
      await doctorDependencies(deps),
    );
    return jsonResponse(200, report);
  });
}

/** The doctor endpoint (function key, like every route). */
export const doctorFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'doctor',
  route: 'doctor',
  methods: ['GET'],
  authLevel: 'function',
  handler,
};
