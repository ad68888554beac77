import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { findVault, objectTypeText, vaultNameFromUrl, type KvGuardConfig } from '../config';
import { catalogPage, MAX_CATALOG_PAGE_SIZE } from '../core/catalog';
import { KvGuardError } from '../core/errors';
import { VAULT_NAME_PATTERN, type BackupRecord } from '../core/domain';
import { keyVaultObjectName, strictFields } from '../core/restore/restore-request';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, jsonResponse, parseQuery } from './http';

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
    const { config, store } = services();
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
    const nextLink = page.continuationToken === undefined ? undefined : nextPageLink(query, page.continuationToken);
    return jsonResponse(200, {
      items,
      ...(page.continuationToken ? { continuationToken: page.continuationToken, nextLink } : {}),
    });
  });
}

/**
 * The catalog name for a `vault` parameter: a configured vault by URL or name, else the name a URL maps to, else
 * the text itself (the catalog keeps backups of vaults that are no longer configured).
 */
function catalogVaultName(config: KvGuardConfig, text: string): string {
  const configured = findVault(config, text);
  if (configured) return configured.name;
  if (text.includes('://') && URL.canParse(text)) return vaultNameFromUrl(text);
  const name = text.toLowerCase();
  if (!VAULT_NAME_PATTERN.test(name)) {
    throw new KvGuardError(
      'ValidationError',
      `vault ${JSON.stringify(text)} is neither a configured vault, a vault URL, nor a vault name`,
      { field: 'vault' },
    );
  }
  return name;
}

/** The next page's path; the function key (`code`) is deliberately not echoed. */
function nextPageLink(query: z.infer<typeof querySchema>, continuationToken: string): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...query, continuationToken }))
    if (value !== undefined) params.set(key, String(value));
  return `/api/backups?${params.toString()}`;
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
