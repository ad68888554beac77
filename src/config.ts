import { z } from 'zod';
import {
  OBJECT_TYPES,
  VAULT_NAME_PATTERN,
  type CriticalSelector,
  type ObjectFilter,
  type ObjectType,
  type RetentionPolicy,
  type VaultTarget,
} from './core/domain';
import { KvGuardError } from './core/errors';
import { refreshAfterDays } from './core/policy/refresh';
import { ncrontabProblem } from './ncrontab';

/** One setting kvguard reads: its name, what it is for, its default, and how its text is parsed. */
interface SettingSpec<T> {
  name: string;
  description: string;
  /** Default text, used when the setting is absent or empty; absent means optional (undefined) or required. */
  default?: string;
  required?: boolean;
  /** True when the value must never be echoed (connection strings, keys). */
  secret?: boolean;
  schema: z.ZodType<T>;
}

function setting<T>(spec: SettingSpec<T>): SettingSpec<T> {
  return spec;
}

const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const httpsUrl = z.url({ protocol: /^https?$/ });
/** Blob container and queue names share Azure Storage's rule: 3-63 lower-case letters, digits and single dashes. */
const storageName = (what: 'container' | 'queue') =>
  z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, `must be a valid ${what} name`);

/** An object type as written in settings and CLI flags (`key`, `keys`, `Key` …). */
export const objectTypeText = z
  .string()
  .transform((v) => v.trim().toLowerCase().replace(/s$/, ''))
  .pipe(z.enum(OBJECT_TYPES as [ObjectType, ...ObjectType[]]));

/** NCRONTAB: six fields (seconds first), checked by the same parser the dev host's timers use. */
const ncrontab = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    const problem = ncrontabProblem(value);
    if (problem)
      ctx.addIssue({
        code: 'custom',
        message: `must be an NCRONTAB expression with six fields (seconds first): ${problem}`,
      });
  });

/** Parses a critical-object selector: `all`, `tag:<name>=<value>` or `names:<glob>,<glob>`. */
export const criticalSelectorText = z.string().transform((text, ctx): CriticalSelector => {
  const value = text.trim();
  if (value.toLowerCase() === 'all') return { kind: 'all' };
  const tag = /^tag:([^=]+)=(.*)$/i.exec(value);
  if (tag) return { kind: 'tag', tag: tag[1]!.trim(), value: tag[2]!.trim() };
  const names = /^names:(.+)$/i.exec(value);
  if (names) {
    const patterns = names[1]!
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    if (patterns.length > 0) return { kind: 'names', patterns };
  }
  ctx.addIssue({ code: 'custom', message: "must be 'all', 'tag:<name>=<value>' or 'names:<glob>[,<glob>…]'" });
  return z.NEVER;
});

/** A Key Vault name glob: the name's own characters plus `*` and `?`. */
const NAME_GLOB = /^[0-9a-z*?-]{1,127}$/i;

/**
 * Parses one include/exclude filter: `tag:<name>=<value>`, `contentType:<glob>`, or `[<type>/]<name glob>` (for
 * example `secret/tmp-*`; a bare glob matches every type).
 */
export const objectFilterText = z.string().transform((text, ctx): ObjectFilter => {
  const value = text.trim();
  const tag = /^tag:([^=]+)=(.*)$/i.exec(value);
  if (tag) return { kind: 'tag', tag: tag[1]!.trim(), value: tag[2]!.trim() };
  const contentType = /^contentType:(.+)$/i.exec(value);
  if (contentType) return { kind: 'contentType', pattern: contentType[1]!.trim() };
  const name = /^(?:([a-z]+)\/)?(.+)$/i.exec(value.replace(/^name:/i, ''));
  const type = name?.[1] === undefined ? undefined : objectTypeText.safeParse(name[1]);
  if (name && NAME_GLOB.test(name[2]!) && (type === undefined || type.success))
    return { kind: 'name', pattern: name[2]!, ...(type?.success ? { type: type.data } : {}) };
  ctx.addIssue({
    code: 'custom',
    message: `${JSON.stringify(value)} must be 'tag:<name>=<value>', 'contentType:<glob>' or '[key|secret|certificate/]<name glob>'`,
  });
  return z.NEVER;
});

/** A list of filters: a JSON array in a vault entry, or comma-separated text in a setting. */
const filterList = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
      : value,
  z.array(objectFilterText),
);

const days = positiveInt(36_500);

const retentionEntry = z
  .object({ keepDays: days.optional(), keepLast: positiveInt(10_000).optional(), keepDeletedDays: days.optional() })
  .strict();

const vaultEntry = z
  .object({
    url: httpsUrl,
    /** Catalog name; defaults to the URL's first DNS label (useful for local emulator vaults on ports). */
    name: z.string().regex(VAULT_NAME_PATTERN, 'must be 1-63 letters, digits or dashes').optional(),
    /** ARM resource id of the vault: lets kvguard read the vault's tags (`kvguard:paused=true`). */
    resourceId: z
      .string()
      .regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+$/i, {
        message: 'must be a Key Vault resource id (/subscriptions/…/providers/Microsoft.KeyVault/vaults/<name>)',
      })
      .optional(),
    types: z.array(objectTypeText).min(1).optional(),
    critical: criticalSelectorText.optional(),
    include: filterList.optional(),
    exclude: filterList.optional(),
    paused: z.boolean().optional(),
    schedule: ncrontab.optional(),
    rpoHours: positiveInt(8_760).optional(),
    retention: retentionEntry.optional(),
    /** This vault's published limit in operations per 10 s, when it differs from KVGUARD_VAULT_RATE_LIMIT. */
    rateLimit: z.number().int().min(1).max(1_000_000).optional(),
    /** Portable exports of this vault's secrets and exportable certificates (needs KVGUARD_PORTABLE_KEK). */
    portable: z.boolean().optional(),
  })
  .strict();

/** A Key Vault key id: `https://<vault>/keys/<name>[/<version>]`. */
const keyIdUrl = httpsUrl.refine(
  (text) => /^https:\/\/[^/]+\/keys\/[0-9a-zA-Z-]{1,127}(\/[0-9a-zA-Z]{1,64})?\/?$/.test(text),
  'must be a Key Vault key id, https://<vault>/keys/<name> (optionally /<version>)',
);

/** `KVGUARD_VAULTS`: comma-separated vault URLs, or a JSON array of `{ url, types?, critical? }`. */
const vaultList = z.string().transform((text, ctx) => {
  const trimmed = text.trim();
  let entries: unknown;
  if (trimmed.startsWith('[')) {
    try {
      entries = JSON.parse(trimmed);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
      return z.NEVER;
    }
  } else {
    entries = trimmed
      .split(/[\s,;]+/)
      .filter(Boolean)
      .map((url) => ({ url }));
  }
  const parsed = z.array(vaultEntry).min(1, 'must name at least one vault').safeParse(entries);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      ctx.addIssue({ code: 'custom', message: `${issue.path.join('.')}: ${issue.message}` });
    return z.NEVER;
  }
  return parsed.data;
});

/** Every setting kvguard reads. The README's configuration table is generated from this list. */
export const SETTINGS = {
  vaults: setting({
    name: 'KVGUARD_VAULTS',
    description:
      'Vaults to protect: comma-separated URLs, or a JSON array of `{ "url", "name", "types", "critical", "include", "exclude", "paused", "schedule", "rpoHours", "retention": { "keepDays", "keepLast", "keepDeletedDays" }, "resourceId", "portable" }` (each policy field overrides its default setting; `"portable": true` turns on portable exports, see KVGUARD_PORTABLE_KEK).',
    required: true,
    schema: vaultList,
  }),
  objectTypes: setting({
    name: 'KVGUARD_OBJECT_TYPES',
    description: 'Object types backed up by default: any of `key`, `secret`, `certificate`, comma-separated.',
    default: 'key,secret,certificate',
    schema: z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      )
      .pipe(z.array(objectTypeText).min(1)),
  }),
  critical: setting({
    name: 'KVGUARD_CRITICAL',
    description:
      'Which objects are critical (backed up on schedule): `all`, `tag:<name>=<value>`, or `names:<glob>,…`.',
    default: 'all',
    schema: criticalSelectorText,
  }),
  include: setting({
    name: 'KVGUARD_INCLUDE',
    description:
      'Default include filters (empty: every object): comma-separated `[<type>/]<name glob>`, `tag:<name>=<value>`, `contentType:<glob>`.',
    default: '',
    schema: filterList,
  }),
  exclude: setting({
    name: 'KVGUARD_EXCLUDE',
    description: 'Default exclude filters, same forms as `KVGUARD_INCLUDE` (e.g. `secret/tmp-*,tag:backup=false`).',
    default: '',
    schema: filterList,
  }),
  paused: setting({
    name: 'KVGUARD_PAUSED',
    description:
      "Pause scheduled backups of every vault (a vault entry's `paused`, or the vault tag `kvguard:paused=true`, pauses one).",
    default: 'false',
    schema: bool,
  }),
  keepDays: setting({
    name: 'KVGUARD_KEEP_DAYS',
    description: 'Default retention: keep every backup younger than this many days (empty: no age limit).',
    schema: days.optional(),
  }),
  keepLast: setting({
    name: 'KVGUARD_KEEP_LAST',
    description: 'Default retention: keep at least this many newest backups of each object (empty: no count limit).',
    schema: positiveInt(10_000).optional(),
  }),
  keepDeletedDays: setting({
    name: 'KVGUARD_KEEP_DELETED_DAYS',
    description:
      'Default retention: keep the newest backup of an object gone from the vault this many days after it was last seen (empty: forever).',
    schema: days.optional(),
  }),
  retentionSchedule: setting({
    name: 'KVGUARD_RETENTION_SCHEDULE',
    description:
      'NCRONTAB schedule of the retention pass that tags backups retention lets go `kvguard-prunable=true` (the storage lifecycle rule deletes them).',
    default: '0 30 1 * * *',
    schema: ncrontab,
  }),
  backupSchedule: setting({
    name: 'KVGUARD_BACKUP_SCHEDULE',
    description:
      'NCRONTAB schedule of the backup fan-out (six fields, seconds first); a vault with its own `schedule` is enqueued on the ticks its schedule falls on.',
    default: '0 0 */6 * * *',
    schema: ncrontab,
  }),
  storageConnectionString: setting({
    name: 'KVGUARD_STORAGE',
    description: 'Storage connection string (local development). In Azure use the identity-based settings below.',
    secret: true,
    schema: z.string().min(1).optional(),
  }),
  blobServiceUri: setting({
    name: 'KVGUARD_STORAGE__blobServiceUri',
    description: 'Blob endpoint for identity-based access, e.g. `https://<account>.blob.core.windows.net`.',
    schema: httpsUrl.optional(),
  }),
  queueServiceUri: setting({
    name: 'KVGUARD_STORAGE__queueServiceUri',
    description: 'Queue endpoint for identity-based access, e.g. `https://<account>.queue.core.windows.net`.',
    schema: httpsUrl.optional(),
  }),
  stateBlobServiceUri: setting({
    name: 'KVGUARD_STATE_BLOB_SERVICE_URI',
    description:
      'Blob endpoint of the account holding the state container, when it is not the backup account (Azure: the runtime account).',
    schema: httpsUrl.optional(),
  }),
  createContainers: setting({
    name: 'KVGUARD_CREATE_CONTAINERS',
    description:
      'Create the backup and state containers when missing (local stack). `false` in Azure: the infra creates them and kvguard holds no `containers/write`.',
    default: 'true',
    schema: bool,
  }),
  container: setting({
    name: 'KVGUARD_CONTAINER',
    description: 'Blob container holding backups, manifests and the audit log (immutable in Azure).',
    default: 'kvguard-backups',
    schema: storageName('container'),
  }),
  stateContainer: setting({
    name: 'KVGUARD_STATE_CONTAINER',
    description: 'Blob container for small mutable state (watcher snapshots, event de-duplication).',
    default: 'kvguard-state',
    schema: storageName('container'),
  }),
  backupQueue: setting({
    name: 'KVGUARD_BACKUP_QUEUE',
    description: 'Storage queue of backup jobs (one per vault or chunk).',
    default: 'kvguard-backup-jobs',
    schema: storageName('queue'),
  }),
  restoreQueue: setting({
    name: 'KVGUARD_RESTORE_QUEUE',
    description: 'Storage queue of long-running restore jobs.',
    default: 'kvguard-restore-jobs',
    schema: storageName('queue'),
  }),
  immutability: setting({
    name: 'KVGUARD_IMMUTABILITY',
    description:
      '`container`: rely on the container WORM policy set by the infra; `version`: also ask for a version-level policy on each blob.',
    default: 'container',
    schema: z.enum(['container', 'version']),
  }),
  retentionDays: setting({
    name: 'KVGUARD_RETENTION_DAYS',
    description:
      'Days each backup blob stays immutable (the WORM window: the container policy, or per blob with `version`); an unchanged object is stored again before its newest backup leaves it.',
    default: '90',
    schema: positiveInt(146_000),
  }),
  rpoHours: setting({
    name: 'KVGUARD_RPO_HOURS',
    description:
      "Recovery point objective (default of a vault entry's `rpoHours`): a vault whose newest successful run is older is in breach.",
    default: '24',
    schema: positiveInt(8_760),
  }),
  pageSize: setting({
    name: 'KVGUARD_PAGE_SIZE',
    description: 'Objects per listing page; each page beyond the first becomes its own queue job (chunk).',
    default: '25',
    schema: positiveInt(25),
  }),
  maxConcurrency: setting({
    name: 'KVGUARD_MAX_CONCURRENCY',
    description:
      'Most Key Vault calls in flight per vault (a safety bound: calls are paced by rate, see `KVGUARD_BUDGET_SHARE`).',
    default: '64',
    schema: positiveInt(256),
  }),
  refreshDays: setting({
    name: 'KVGUARD_REFRESH_DAYS',
    description:
      'An unchanged object is backed up again after 50-100 % of this many days (spread by name): catches edits to older versions, which the listing does not show.',
    default: '7',
    schema: positiveInt(365),
  }),
  vaultRateLimit: setting({
    name: 'KVGUARD_VAULT_RATE_LIMIT',
    description:
      "A vault's published limit in operations per 10 s (4000: software vault, RSA-2048/EC/secret operations); per vault also `rateLimit` in `KVGUARD_VAULTS`.",
    default: '4000',
    schema: positiveInt(1_000_000),
  }),
  budgetShare: setting({
    name: 'KVGUARD_BUDGET_SHARE',
    description:
      "Percent of each vault's limit kvguard may spend; the applications that use the vault share the same budget.",
    default: '25',
    schema: positiveInt(100),
  }),
  subscriptionRateLimit: setting({
    name: 'KVGUARD_SUBSCRIPTION_RATE_LIMIT',
    description:
      'Operations per 10 s kvguard may spend across every vault of one region together (5 × the vault limit), shared by all instances through the state container; 0 turns it off.',
    default: '20000',
    schema: z.coerce.number().int().min(0).max(10_000_000),
  }),
  runDeadlineSeconds: setting({
    name: 'KVGUARD_RUN_DEADLINE_SECONDS',
    description: 'Deadline of one job; retries stop after it (keep it under the function timeout).',
    default: '480',
    schema: positiveInt(86_400),
  }),
  credential: setting({
    name: 'KVGUARD_CREDENTIAL',
    description: '`default` (DefaultAzureCredential: managed identity in Azure) or `emulator` (local stack only).',
    default: 'default',
    schema: z.enum(['default', 'emulator']),
  }),
  discoverySubscriptions: setting({
    name: 'KVGUARD_DISCOVERY_SUBSCRIPTIONS',
    description:
      'Subscription ids (comma-separated) searched on each backup schedule for vaults tagged `<KVGUARD_DISCOVERY_TAG>=protect`.',
    default: '',
    schema: z
      .string()
      .transform((v) =>
        v
          .split(/[\s,;]+/)
          .map((id) => id.trim().toLowerCase())
          .filter(Boolean),
      )
      .pipe(z.array(z.uuid('must be subscription ids (GUIDs)'))),
  }),
  discoveryTag: setting({
    name: 'KVGUARD_DISCOVERY_TAG',
    description: 'Tag that marks a vault for protection by discovery (its value must be `protect`).',
    default: 'kvguard',
    schema: z.string().trim().min(1).max(512),
  }),
  armEndpoint: setting({
    name: 'KVGUARD_ARM_ENDPOINT',
    description: 'Azure Resource Manager endpoint used for discovery (sovereign clouds, local stand-ins).',
    default: 'https://management.azure.com',
    schema: httpsUrl,
  }),
  clientId: setting({
    name: 'AZURE_CLIENT_ID',
    description: 'Client id of the user-assigned managed identity kvguard runs as (set by the infra).',
    schema: z.string().min(1).optional(),
  }),
  pruning: setting({
    name: 'KVGUARD_PRUNING',
    description:
      'Let the retention pass tag what the plan lets go `kvguard-prunable=true`, for the storage lifecycle rule to delete. `false`: it only plans and reports. In Azure set by the infra (`enablePruning`); tags then go through `KVGUARD_PRUNE_CLIENT_ID`.',
    default: 'false',
    schema: bool,
  }),
  pruneClientId: setting({
    name: 'KVGUARD_PRUNE_CLIENT_ID',
    description:
      "Client id of the prune identity: the user-assigned identity, apart from kvguard's own, that alone may set the prune tags (set by the infra with `enablePruning`). Used for blob index tags only; required with `KVGUARD_PRUNING=true` on identity-based storage.",
    schema: z.guid('must be a client id (GUID)').optional(),
  }),
  keyVaultCaCert: setting({
    name: 'KVGUARD_KEYVAULT_CA_CERT',
    description: 'Local stack only: PEM file of the emulator CA to trust (also disables challenge resource checks).',
    schema: z.string().min(1).optional(),
  }),
  appInsights: setting({
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    description: 'Application Insights; when set, runs and alerts become custom events and metrics.',
    secret: true,
    schema: z.string().min(1).optional(),
  }),
  restoreRole: setting({
    name: 'KVGUARD_RESTORE_ROLE',
    description: 'App role an Entra ID principal must hold to call `POST /api/restore`.',
    default: 'kvguard.Restore',
    schema: z.string().min(1),
  }),
  readRole: setting({
    name: 'KVGUARD_READ_ROLE',
    description:
      'App role that lets an Entra ID principal read the catalog, status and restore progress (the restore role does too).',
    default: 'kvguard.Read',
    schema: z.string().min(1),
  }),
  requirePrincipal: setting({
    name: 'KVGUARD_REQUIRE_PRINCIPAL',
    description:
      "Require an Entra ID bearer token (checked against the tenant's keys) besides the function key on every HTTP route.",
    default: 'true',
    schema: bool,
  }),
  authTenantId: setting({
    name: 'KVGUARD_AUTH_TENANT_ID',
    description: 'Entra ID tenant whose tokens are accepted (issuer and signing keys); required for principals.',
    schema: z.uuid({ error: 'must be a tenant id (GUID)' }).optional(),
  }),
  authAudience: setting({
    name: 'KVGUARD_AUTH_AUDIENCE',
    description: "Accepted token audiences, comma-separated: the app registration's client id and/or App ID URI.",
    schema: z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((a) => a.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().min(1)).min(1))
      .optional(),
  }),
  authJwksUrl: setting({
    name: 'KVGUARD_AUTH_JWKS_URL',
    description: 'Signing keys of the tenant; defaults to its Entra ID discovery keys (override for tests only).',
    schema: httpsUrl.optional(),
  }),
  portableKek: setting({
    name: 'KVGUARD_PORTABLE_KEK',
    description:
      'Key id (`https://<vault>/keys/<name>`) of the RSA key-encryption key that wraps portable exports; keep it in a vault or Managed HSM in another geography. Off (no portable exports) unless set; vaults opt in with `"portable": true`.',
    schema: keyIdUrl.optional(),
  }),
  scratchVault: setting({
    name: 'KVGUARD_SCRATCH_VAULT',
    description: 'Vault URL for restore drills; the weekly drill runs only when set.',
    schema: httpsUrl.optional(),
  }),
  drillSchedule: setting({
    name: 'KVGUARD_DRILL_SCHEDULE',
    description: 'NCRONTAB schedule of the restore drill.',
    default: '0 0 3 * * 0',
    schema: ncrontab,
  }),
  drillSample: setting({
    name: 'KVGUARD_DRILL_SAMPLE',
    description: 'How many objects a drill restores into the scratch vault.',
    default: '5',
    schema: positiveInt(10_000),
  }),
  watchSchedule: setting({
    name: 'KVGUARD_WATCH_SCHEDULE',
    description: 'NCRONTAB schedule of the deletion watcher.',
    default: '0 */5 * * * *',
    schema: ncrontab,
  }),
  eventCoalesceSeconds: setting({
    name: 'KVGUARD_EVENT_COALESCE_SECONDS',
    description:
      "New-version events of one object within this window share snapshots: the first snapshots at once, the rest once at the window's end.",
    default: '30',
    schema: positiveInt(3_600),
  }),
  snapshotOnPolicyChange: setting({
    name: 'KVGUARD_SNAPSHOT_ON_POLICY_CHANGE',
    description: 'Also snapshot the whole vault when its access policy changes.',
    default: 'false',
    schema: bool,
  }),
  alertWebhookUrl: setting({
    name: 'KVGUARD_ALERT_WEBHOOK_URL',
    description: 'Alert webhook (generic JSON, or Teams/Slack shape, see below).',
    secret: true,
    schema: httpsUrl.optional(),
  }),
  alertWebhookFormat: setting({
    name: 'KVGUARD_ALERT_WEBHOOK_FORMAT',
    description: 'Shape of webhook alerts: `json`, `teams` or `slack`.',
    default: 'json',
    schema: z.enum(['json', 'teams', 'slack']),
  }),
  alertTopicEndpoint: setting({
    name: 'KVGUARD_ALERT_EVENTGRID_ENDPOINT',
    description: 'Event Grid custom topic endpoint that receives `kvguard.*` alert events.',
    schema: httpsUrl.optional(),
  }),
  alertTopicKey: setting({
    name: 'KVGUARD_ALERT_EVENTGRID_KEY',
    description: 'Access key of that topic; without it, the managed identity is used.',
    secret: true,
    schema: z.string().min(1).optional(),
  }),
  alertRetrySchedule: setting({
    name: 'KVGUARD_ALERT_RETRY_SCHEDULE',
    description: 'NCRONTAB schedule of the timer that delivers alerts still pending in the outbox.',
    default: '0 */1 * * * *',
    schema: ncrontab,
  }),
  alertParkHours: setting({
    name: 'KVGUARD_ALERT_PARK_HOURS',
    description:
      "Hours an alert is retried before it is parked (kept, with the sinks' last failure, in status and the dashboard).",
    default: '24',
    schema: positiveInt(24 * 30),
  }),
} as const;

type Settings = typeof SETTINGS;
/** Parsed values of every setting. */
export type SettingValues = { [K in keyof Settings]: z.output<Settings[K]['schema']> };

/** kvguard's whole configuration, validated once at start. */
export interface KvGuardConfig extends Omit<SettingValues, 'vaults'> {
  vaults: VaultTarget[];
}

/** Derives a vault's name from its URL: the first DNS label, or `host-port` for a local emulator. */
export function vaultNameFromUrl(url: string): string {
  const { hostname, port } = new URL(url);
  const isIp = /^[\d.]+$/.test(hostname) || hostname === 'localhost' || hostname.includes(':');
  return (isIp ? `${hostname.replace(/[.:[\]]/g, '-')}-${port || '443'}` : hostname.split('.')[0]!).toLowerCase();
}

/** Normalises a vault URL to `https://host[:port]/`. */
export function normaliseVaultUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}/`;
}

/**
 * Reads and validates every setting from `env` (environment variables, or local.settings.json `Values`).
 * Throws `InvalidConfiguration` naming the setting and, unless it is secret, the bad value.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): KvGuardConfig {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(SETTINGS) as [string, SettingSpec<unknown>][]) {
    const raw = env[spec.name];
    const text = raw === undefined || raw.trim() === '' ? spec.default : raw;
    if (text === undefined) {
      if (spec.required) problems.push(`${spec.name} is required: ${spec.description}`);
      else values[key] = undefined;
      continue;
    }
    const parsed = spec.schema.safeParse(text);
    if (parsed.success) {
      values[key] = parsed.data;
      continue;
    }
    const shown = spec.secret ? '(value hidden)' : JSON.stringify(text);
    problems.push(`${spec.name}=${shown} ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  const settings = values as SettingValues;
  if (problems.length === 0 && !settings.storageConnectionString && !settings.blobServiceUri) {
    problems.push(`KVGUARD_STORAGE or KVGUARD_STORAGE__blobServiceUri is required: where backups are stored`);
  }
  if (problems.length === 0 && settings.stateContainer === settings.container) {
    // The state container holds mutable documents; the backup container must stay create-only (and WORM).
    problems.push(
      `KVGUARD_STATE_CONTAINER=${JSON.stringify(settings.stateContainer)} must differ from KVGUARD_CONTAINER`,
    );
  }
  if (problems.length === 0) problems.push(...pruningProblems(settings));
  if (problems.length > 0) {
    throw new KvGuardError('InvalidConfiguration', `Invalid configuration: ${problems.join(' | ')}`, {
      field: problems[0]!.split(/[= ]/)[0],
    });
  }
  const vaults = toVaultTargets(settings);
  checkPortableKek(vaults, settings.portableKek);
  return { ...settings, vaults };
}

/**
 * Portable exports need a KEK, and a KEK in one of the vaults it protects would be lost with them: refused at start.
 * (Whether its vault is in another geography only ARM can tell; `kvguard doctor` and the README say how to check.)
 */
function checkPortableKek(vaults: readonly VaultTarget[], kek: string | undefined): void {
  const portable = vaults.filter((v) => v.portable);
  if (portable.length === 0) return;
  if (kek === undefined) {
    throw new KvGuardError(
      'InvalidConfiguration',
      `KVGUARD_VAULTS turns on portable exports for ${portable.map((v) => v.name).join(', ')}, but KVGUARD_PORTABLE_KEK is not set: name the key-encryption key (a key id in a vault of another geography)`,
      { field: 'KVGUARD_PORTABLE_KEK' },
    );
  }
  const kekVault = normaliseVaultUrl(kek);
  const same = portable.find((v) => v.url === kekVault);
  if (same) {
    throw new KvGuardError(
      'InvalidConfiguration',
      `KVGUARD_PORTABLE_KEK=${JSON.stringify(kek)} is in vault ${same.name}, whose portable exports it protects: keep the KEK in a vault of another geography`,
      { field: 'KVGUARD_PORTABLE_KEK' },
    );
  }
}

/**
 * Tagging needs its own identity wherever storage is reached by identity: kvguard's own holds no tag right on the
 * backup container, and the prune identity must not be kvguard's own (that would give it the tag right too).
 */
function pruningProblems(settings: SettingValues): string[] {
  const identityBased = !settings.storageConnectionString;
  if (settings.pruning && identityBased && !settings.pruneClientId) {
    return [
      "KVGUARD_PRUNE_CLIENT_ID is required with KVGUARD_PRUNING=true on identity-based storage: kvguard's own identity may not set blob tags",
    ];
  }
  if (settings.pruneClientId && settings.pruneClientId.toLowerCase() === settings.clientId?.toLowerCase()) {
    return [
      `KVGUARD_PRUNE_CLIENT_ID=${JSON.stringify(settings.pruneClientId)} must differ from AZURE_CLIENT_ID: the prune identity is a separate one`,
    ];
  }
  return [];
}

function toVaultTargets(settings: SettingValues): VaultTarget[] {
  const seen = new Map<string, VaultTarget>();
  for (const entry of settings.vaults) {
    const url = normaliseVaultUrl(entry.url);
    const name = (entry.name ?? vaultNameFromUrl(url)).toLowerCase();
    if (seen.has(name)) {
      throw new KvGuardError('InvalidConfiguration', `KVGUARD_VAULTS names vault ${JSON.stringify(name)} twice`, {
        field: 'KVGUARD_VAULTS',
      });
    }
    seen.set(name, {
      url,
      name,
      ...(entry.resourceId ? { resourceId: entry.resourceId } : {}),
      types: entry.types ?? settings.objectTypes,
      critical: entry.critical ?? settings.critical,
      policy: vaultPolicy(entry, settings),
      ...(entry.rateLimit ? { rateLimit: entry.rateLimit } : {}),
      ...(entry.portable ? { portable: true } : {}),
    });
  }
  return [...seen.values()];
}

/** A vault's policy: each field of its entry, else the default setting. */
function vaultPolicy(entry: z.output<typeof vaultEntry>, settings: SettingValues): NonNullable<VaultTarget['policy']> {
  const retention: RetentionPolicy = withoutUndefined({
    keepDays: entry.retention?.keepDays ?? settings.keepDays,
    keepLast: entry.retention?.keepLast ?? settings.keepLast,
    keepDeletedDays: entry.retention?.keepDeletedDays ?? settings.keepDeletedDays,
  });
  const rpoHours = entry.rpoHours ?? settings.rpoHours;
  return {
    include: entry.include ?? settings.include,
    exclude: entry.exclude ?? settings.exclude,
    paused: entry.paused ?? settings.paused,
    ...(entry.schedule ? { schedule: entry.schedule } : {}),
    rpoHours,
    retention,
    refreshAfterDays: refreshAfterDays(retention, { wormDays: settings.retentionDays, rpoHours }),
  };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Finds the configured vault for a URL or a name; undefined when kvguard does not protect it. */
export function findVault(config: Pick<KvGuardConfig, 'vaults'>, urlOrName: string): VaultTarget | undefined {
  const wanted = urlOrName.trim().toLowerCase();
  return config.vaults.find(
    (v) =>
      v.name === wanted || v.url.toLowerCase() === wanted || v.url.toLowerCase() === `${wanted.replace(/\/+$/, '')}/`,
  );
}

/** Rows of the README configuration table: setting, default, description. */
export function settingsTable(): { name: string; default: string; description: string }[] {
  return Object.values(SETTINGS).map((s: SettingSpec<unknown>) => ({
    name: s.name,
    default: s.required ? '(required)' : (s.default ?? ''),
    description: s.description,
  }));
}

/** The documented default of a setting, by its app-setting name. */
export function settingDefault(name: string): string | undefined {
  return Object.values(SETTINGS).find((s: SettingSpec<unknown>) => s.name === name)?.default;
}

/**
 * Resolves `%SETTING%` references in a trigger option (schedule, queue name) from the app settings, falling back
 * to the setting's documented default — the Functions host alone would refuse to index a function whose
 * referenced setting is absent, so the defaults are applied here, once, for Azure and the dev host alike.
 */
export function resolveSettingReferences(text: string, env: Record<string, string | undefined> = process.env): string {
  return text.replace(/%([^%]+)%/g, (reference, name: string) => {
    const value = env[name]?.trim() || settingDefault(name);
    if (value === undefined) {
      throw new KvGuardError(
        'InvalidConfiguration',
        `${name} (referenced as ${reference}) is not set and has no default`,
        { field: name },
      );
    }
    return value;
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
export function catalogVaultName(config: Pick<KvGuardConfig, 'vaults'>, text: string): string {
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

/**
 * The object types a vault's runs cover: its configured types, or every type for a vault no longer configured.
 * @param config - the configuration holding the vaults
 */
export function typesOfVault(config: Pick<KvGuardConfig, 'vaults'>): (vault: string) => readonly ObjectType[] {
  return (vault) => findVault(config, vault)?.types ?? OBJECT_TYPES;
}
