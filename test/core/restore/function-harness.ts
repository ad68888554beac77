/** Shared set-up of the restore-related function tests: the restore world behind `services()`. */
import { HttpRequest, InvocationContext } from '@azure/functions';
import { useServices, type Services } from '../../../src/composition';
import { loadConfig } from '../../../src/config';
import { testPrincipalVerifier } from '../../support/entra';
import { InMemoryAlertOutbox } from '../../support/in-memory';
import { restoreWorld } from './harness';

/** The restore world plus configuration, installed as the process-wide services. */
export function installRestoreWorld(settings: Record<string, string> = {}) {
  const world = restoreWorld();
  const config = loadConfig({
    KVGUARD_VAULTS: JSON.stringify([{ url: world.prod.url }, { url: world.dr.url }]),
    KVGUARD_STORAGE: 'UseDevelopmentStorage=true',
    ...settings,
  });
  const services: Services = {
    ...world.deps,
    config,
    backupQueue: { send: async () => {} },
    principals: testPrincipalVerifier(),
    alertOutbox: new InMemoryAlertOutbox(),
  };
  useServices(services);
  return { ...world, config, services };
}

/** An HTTP request as the Functions host hands it over. */
export function httpRequest(init: {
  method?: string;
  path: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
}): HttpRequest {
  const url = new URL(`http://localhost:7071${init.path}`);
  for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, v);
  const text = init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  return new HttpRequest({
    method: init.method ?? 'GET',
    url: url.toString(),
    headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
    ...(text === undefined ? {} : { body: { string: text } }),
    query: init.query,
    params: init.params,
  });
}

/** An invocation context whose log lines are kept. */
export function invocationContext(name: string, lines: string[] = []): InvocationContext {
  return new InvocationContext({
    invocationId: 'test',
    functionName: name,
    logHandler: (_level, ...args) => lines.push(args.map(String).join(' ')),
  });
}
