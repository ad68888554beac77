import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FunctionDefinition } from '../../src/functions/definition';
import { BodyTooLargeError, readBody, send, sendHostError, sendJson } from './http-io';
import { keyMatches, presentedKey, type HostKeys } from './keys';

/** Runs a non-HTTP function with the admin API's `input` text; the dev host supplies one per trigger kind. */
export type AdminInvoker = (definition: FunctionDefinition, input: string | undefined) => void;

/**
 * The Functions host's admin API, guarded by the master key:
 * - `POST /admin/functions/<name>` with `{ "input": "..." }` runs a non-HTTP function in the background: 202;
 *   400 without a JSON body, 404 for an unknown function;
 * - `GET /admin/host/status`: the host's state.
 */
export class AdminApi {
  private readonly functions = new Map<string, FunctionDefinition>();

  constructor(
    definitions: FunctionDefinition[],
    private readonly keys: HostKeys,
    private readonly invoke: AdminInvoker,
  ) {
    for (const definition of definitions) this.functions.set(definition.name.toLowerCase(), definition);
  }

  /** Answers a request whose path starts with `/admin/`. */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    if (!keyMatches(presentedKey(request, url), [this.keys.masterKey]))
      return sendHostError(response, 401, 'the master key is required (x-functions-key header or code query)');
    const path = url.pathname.replace(/\/+$/, '').toLowerCase();
    if (path === '/admin/host/status' && request.method === 'GET')
      return sendJson(response, 200, { state: 'Running', version: 'kvguard-dev-host' });
    const invoke = /^\/admin\/functions\/([^/]+)$/.exec(path);
    if (!invoke || request.method !== 'POST') return sendHostError(response, 404);
    const definition = this.functions.get(decodeURIComponent(invoke[1]!));
    if (!definition) return sendHostError(response, 404, `no function named ${JSON.stringify(invoke[1])}`);
    if (definition.trigger === 'http')
      return send(response, 400, `'${definition.name}' is HTTP-triggered: call /api/${definition.route}`);
    let input: string | undefined;
    try {
      const body = JSON.parse((await readBody(request)).toString('utf8')) as { input?: unknown } | null;
      if (body === null || typeof body !== 'object') return send(response, 400);
      input =
        typeof body.input === 'string' ? body.input : body.input === undefined ? undefined : JSON.stringify(body.input);
    } catch (error) {
      return send(response, error instanceof BodyTooLargeError ? 413 : 400);
    }
    this.invoke(definition, input);
    send(response, 202);
  }
}
