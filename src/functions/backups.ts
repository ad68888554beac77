import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { services } from '../composition';
import { findVault, objectTypeText, type KvGuardConfig } from '../config';
import { catalogPage, MAX_CATALOG_PAGE_SIZE } from '../core/catalog';
import { KvGuardError } from '../core/errors';
import { VAULT_NAME_PATTERN, type BackupRecord } from '../core/domain';
import { keyVaultObjectName, strictFields } from '../core/restore/restore-request';
import type { HttpFunctionDefinition } from './definition';
import { answeringErrors, authorisation, authorise, jsonResponse, parseQuery } from './http';

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
    const deps = services();
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
    const nextLink = page.continuationToken === undefined ? undefined : nextPageLink(query, page.continuationToken);
    return jsonResponse(200, {
      items,
      ...(page.continuationToken ? { continuationToken: page.continuationToken, nextLink } : {}),
    });
  });
}

/** Host suffixes of Key Vault in the Azure clouds: a vault's name is the host's first label only under these. */
const KEY_VAULT_HOST_SUFFIXES = [
  '.vault.azure.net',
  '.vault.azure.cn',
  '.vault.usgovcloudapi.net',
  '.vault.microsoftazure.de',
];

/**
 * The catalog name for a `vault` parameter: a configured vault by URL or name; else a vault name (the catalog keeps
 * backups of vaults that are no longer configured); else an Azure Key Vault URL whose name no configured vault has.
 * A URL is matched by the vault's full identity, never by its first host label alone: `https://prod.evil.example/`
 * is not the configured `https://prod.vault.azure.net/`.
 */
function catalogVaultName(config: KvGuardConfig, text: string): string {
  const configured = findVault(config, text);
  if (configured) return configured.name;
  const refuse = (why: string) =>
    new KvGuardError('ValidationError', `vault ${JSON.stringify(text.slice(0, 300))} ${why}`, { field: 'vault' });
  if (text.includes('://')) {
    if (!URL.canParse(text)) throw refuse('is not a valid URL');
    const { protocol, hostname, port, pathname } = new URL(text);
    const isVaultUrl =
      protocol === 'https:' &&
      port === '' &&
      (pathname === '/' || pathname === '') &&
      KEY_VAULT_HOST_SUFFIXES.some((suffix) => hostname.endsWith(suffix)) &&
      hostname.split('.').length === 4;
    const name = hostname.split('.')[0]!;
    if (!isVaultUrl || !VAULT_NAME_PATTERN.test(name)) {
      throw refuse('is not a configured vault, and not an Azure Key Vault URL (https://<name>.vault.azure.net/)');
    }
    if (findVault(config, name)) {
      throw refuse(`is not configured; the configured vault named ${JSON.stringify(name)} has another URL`);
    }
    return name;
  }
  const name = text.toLowerCase();
  if (!VAULT_NAME_PATTERN.test(name)) throw refuse('is neither a configured vault, a vault URL, nor a vault name');
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
