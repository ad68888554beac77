import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { catalogVaultName, objectTypeText } from '../config';
import { catalogPage, MAX_CATALOG_PAGE_SIZE } from '../core/catalog';
import type { BackupRecord } from '../core/domain';
import { keyVaultObjectName, strictFields } from '../core/restore/restore-request';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, authorisation, authorise, jsonResponse, nextPageLink, parseQuery } from './http';

const querySchema = strictFields(
  {
    vault: z.string().trim().min(1).max(300).optional(),
    type: objectTypeText.optional(),
    name: keyVaultObjectName.optional(),
    asOf: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone' }).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_CATALOG_PAGE_SIZE).optional(),
    continuationToken: z.string().min(1).max(2000).optional(),
  },
  'GET /api/backups',
);

/** One catalog entry as the API shows it. */
type CatalogItem = Omit<BackupRecord, 'takenAt'> & { takenAt: string };

/** GET /api/backups: the catalog, newest first, filtered by vault/type/name/asOf, one page at a time. */
async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringErrors(context, 'backups listing', async () => {
    const deps = await services();
    await authorise(request, authorisation(deps, 'read'));
    const { config, store } = deps;
    const query = parseQuery(request, querySchema);
    const vault = query.vault === undefined ? undefined : catalogVaultName(config, query.vault);
    const page = await catalogPage(store, {
      vault,
      type: query.type,
      name: query.name,
      asOf: query.asOf === undefined ? undefined : new Date(query.asOf),
      limit: query.limit,
      continuationToken: query.continuationToken,
    });
    const items: CatalogItem[] = page.items.map((r) => ({ ...r, takenAt: r.takenAt.toISOString() }));
    const nextLink =
      page.continuationToken === undefined ? undefined : nextPageLink('/api/backups', query, page.continuationToken);
    return jsonResponse(200, {
      items,
      ...(page.continuationToken ? { continuationToken: page.continuationToken, nextLink } : {}),
    });
  });
}

/** The catalog endpoint. */
export const backupsFunction: HttpFunctionDefinition = {
  trigger: 'http',
  name: 'backups',
  route: 'backups',
  methods: ['GET'],
  authLevel: 'function',
  handler,
};
