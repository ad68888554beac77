import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventGridFunctionDefinition } from '../../src/functions/definition';
import { mapWithConcurrency } from '../../src/core/concurrency';
import { BodyTooLargeError, readBody, send, sendHostError, sendJson } from './http-io';
import type { InvocationRunner } from './invocation';
import { keyMatches, presentedKey, type HostKeys } from './keys';
import type { HostLogger } from './logger';

/** Path of the Event Grid webhook (matched case-insensitively, as the host does). */
export const EVENT_GRID_WEBHOOK_PATH = '/runtime/webhooks/eventgrid';

/** Events of one delivery invoked at the same time (the Functions host starts them all at once; we bound it). */
const EVENT_CONCURRENCY = 16;

const CLOUD_EVENT_TYPES = ['application/cloudevents+json', 'application/cloudevents-batch+json'];

/**
 * The Event Grid webhook of the Functions host's Event Grid extension
 * (`Microsoft.Azure.WebJobs.Extensions.EventGrid`, `HttpRequestProcessor` and `EventGridExtensionConfigProvider`):
 * - unknown `functionName` → 404 `cannot find function: '<name>'`;
 * - `OPTIONS` (CloudEvents abuse protection) → 200 with `WebHook-Allowed-Origin`;
 * - `aeg-event-type: SubscriptionValidation` → 200 `{"validationResponse": "<code>"}`;
 * - `aeg-event-type: Notification`, a JSON array or object → one invocation per event, all at once; 202 when every
 *   invocation succeeded, else 500 (so Event Grid redelivers the whole batch);
 * - `aeg-event-type: Unsubscribe` → 202; anything else → 400.
 * Locally, a CloudEvents content type counts as `Notification` even without `aeg-event-type`, and no system key is
 * needed (in Azure `code` must be the `eventgrid_extension` system key); a `code` that is given must be a host key.
 */
export class EventGridWebhook {
  private readonly functions = new Map<string, EventGridFunctionDefinition>();

  constructor(
    definitions: EventGridFunctionDefinition[],
    private readonly keys: HostKeys,
    private readonly runner: InvocationRunner,
    private readonly logger: HostLogger,
  ) {
    for (const definition of definitions) this.functions.set(definition.name.toLowerCase(), definition);
  }

  /** Answers a request to {@link EVENT_GRID_WEBHOOK_PATH}. */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const code = presentedKey(request, url);
    if (code !== undefined && !keyMatches(code, [this.keys.functionKey, this.keys.masterKey]))
      return sendHostError(response, 401);
    const functionName = url.searchParams.get('functionName') ?? '';
    const definition = this.functions.get(functionName.toLowerCase());
    if (!definition)
      return send(response, 404, `cannot find function: '${functionName}'`, {
        'content-type': 'text/plain; charset=utf-8',
      });

    if (request.method === 'OPTIONS') {
      const origin = header(request, 'webhook-request-origin') ?? 'eventgrid.azure.net';
      return send(response, 200, '', { 'webhook-allowed-origin': origin });
    }
    const eventType = header(request, 'aeg-event-type')?.toLowerCase();
    const isCloudEvent = CLOUD_EVENT_TYPES.some((type) =>
      header(request, 'content-type')?.toLowerCase().startsWith(type),
    );
    if (eventType === 'unsubscribe') return send(response, 202);
    if (eventType !== 'subscriptionvalidation' && eventType !== 'notification' && !isCloudEvent)
      return send(response, 400);

    let payload: unknown;
    try {
      payload = JSON.parse((await readBody(request)).toString('utf8'));
    } catch (error) {
      return send(response, error instanceof BodyTooLargeError ? 413 : 400, 'The request content is not valid JSON.');
    }
    if (eventType === 'subscriptionvalidation') return this.validate(response, payload, definition);
    const events = Array.isArray(payload) ? payload : [payload];
    if (events.some((event) => event === null || typeof event !== 'object')) {
      return send(response, 400, 'The request content should be a JSON object or array of objects.');
    }
    const outcomes = await mapWithConcurrency(events, EVENT_CONCURRENCY, (event) =>
      this.runner.run(definition, 'EventGrid trigger fired', (context) => definition.handler(event, context)),
    );
    if (outcomes.some((outcome) => !outcome.ok)) {
      // The host sends the exception message back; the dev host keeps it in the logs, never in the answer.
      return send(response, 500, `function '${definition.name}' failed; see the dev host logs`);
    }
    return send(response, 202);
  }

  private validate(response: ServerResponse, payload: unknown, definition: EventGridFunctionDefinition): void {
    const validationCode = validationCodeOf(payload);
    if (validationCode === undefined)
      return send(response, 400, 'The subscription validation event has no data.validationCode.');
    this.logger.host('information', `perform handshake with eventGrid for function: ${definition.name}`, {
      function: definition.name,
    });
    sendJson(response, 200, { validationResponse: validationCode });
  }
}

/** Event Grid schema: `[{ data: { validationCode } }]`; CloudEvents: `{ data: { validationCode } }` (data may be JSON text). */
function validationCodeOf(payload: unknown): string | undefined {
  const event: unknown = Array.isArray(payload) ? (payload as unknown[])[0] : payload;
  let data = (event as { data?: unknown } | undefined)?.data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  const code = (data as { validationCode?: unknown } | undefined)?.validationCode;
  return typeof code === 'string' ? code : undefined;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
