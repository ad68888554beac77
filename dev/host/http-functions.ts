import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpRequest, HttpResponse, type HttpResponseInit } from '@azure/functions';
import type { HttpFunctionDefinition } from '../../src/functions/definition';
import { BodyTooLargeError, flatHeaders, readBody, send, sendHostError } from './http-io';
import { HOST_API_REASON, type InvocationRunner } from './invocation';
import { keyMatches, presentedKey, type HostKeys } from './keys';
import { parseRouteTemplate, type RouteTemplate } from './routes';

/** The route prefix of HTTP functions (host.json `extensions.http.routePrefix`, default `api`). */
export const ROUTE_PREFIX = 'api';

interface HttpRoute {
  definition: HttpFunctionDefinition;
  template: RouteTemplate;
}

/** Serves HTTP-triggered functions under `/api/<route>`, with function-key auth, like the Functions host. */
export class HttpFunctions {
  private readonly routes: HttpRoute[];

  constructor(
    definitions: HttpFunctionDefinition[],
    private readonly keys: HostKeys,
    private readonly runner: InvocationRunner,
  ) {
    this.routes = definitions.map((definition) => ({
      definition,
      template: parseRouteTemplate(definition.route || definition.name),
    }));
  }

  /**
   * Answers a request whose path starts with `/api/`. Like the Functions host, a path that matches no route *for
   * this method* is a 404 (the host does not answer 405), a missing or wrong key a 401 — both with kvguard's error
   * body — and a handler that throws a 500 with an empty body.
   */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.slice(ROUTE_PREFIX.length + 2);
    const method = (request.method ?? 'GET').toUpperCase();
    const found = this.findRoute(path, method);
    if (!found) return sendHostError(response, 404, `no function answers ${method} /${ROUTE_PREFIX}/${path}`);
    const { definition, params } = found;
    if (
      definition.authLevel === 'function' &&
      !keyMatches(presentedKey(request, url), [this.keys.functionKey, this.keys.masterKey])
    ) {
      return sendHostError(response, 401);
    }
    let body: Buffer;
    try {
      body = await readBody(request);
    } catch (error) {
      return send(response, error instanceof BodyTooLargeError ? 413 : 400);
    }
    const httpRequest = new HttpRequest({
      method,
      url: url.toString(),
      headers: flatHeaders(request),
      query: Object.fromEntries(url.searchParams),
      params,
      body: body.length > 0 ? { bytes: body } : undefined,
    });
    const outcome = await this.runner.run(definition, HOST_API_REASON, (context) =>
      definition.handler(httpRequest, context),
    );
    if (!outcome.ok) return send(response, 500);
    await sendFunctionResponse(response, outcome.value);
  }

  private findRoute(
    path: string,
    method: string,
  ): { definition: HttpFunctionDefinition; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (!route.definition.methods.some((m) => m === method)) continue;
      const params = route.template.match(path);
      if (params) return { definition: route.definition, params };
    }
    return undefined;
  }
}

async function sendFunctionResponse(
  response: ServerResponse,
  result: HttpResponseInit | HttpResponse | undefined,
): Promise<void> {
  const answer = result instanceof HttpResponse ? result : new HttpResponse(result ?? {});
  const headers: Record<string, string> = {};
  answer.headers.forEach((value, name) => {
    if (name !== 'content-length' && name !== 'transfer-encoding') headers[name] = value;
  });
  const body = answer.body ? Buffer.from(await answer.arrayBuffer()) : Buffer.alloc(0);
  send(response, answer.status, body, headers);
}
