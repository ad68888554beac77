import { z } from 'zod';
import {
  OBJECT_TYPES,
  VAULT_NAME_PATTERN,
  type CriticalSelector,
  type ObjectType,
  type VaultTarget,
} from './core/domain';
import { KvGuardError } from './core/errors';
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

const vaultEntry = z
  .object({
    url: httpsUrl,
    /** Catalog name; defaults to the URL's first DNS label (useful for local emulator vaults on ports). */
    name: z.string().regex(VAULT_NAME_PATTERN, 'must be 1-63 letters, digits or dashes').optional(),
    types: z.array(objectTypeText).min(1).optional(),
    critical: criticalSelectorText.optional(),
  })
  .strict();

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
      'Vaults to protect: comma-separated URLs, or a JSON array of `{ "url", "name", "types", "critical" }`.',
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
  backupSchedule: setting({
    name: 'KVGUARD_BACKUP_SCHEDULE',
    description: 'NCRONTAB schedule of the backup fan-out (six fields, seconds first).',
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
    description: 'Days each backup blob stays immutable when `KVGUARD_IMMUTABILITY=version`.',
    default: '90',
    schema: positiveInt(146_000),
  }),
  rpoHours: setting({
    name: 'KVGUARD_RPO_HOURS',
    description: 'Recovery point objective: a vault whose newest successful run is older is in breach.',
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
    description: 'Upper bound of concurrent Key Vault calls per vault; the adapter adapts below it on 429s.',
    default: '16',
    schema: positiveInt(256),
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
  requirePrincipal: setting({
    name: 'KVGUARD_REQUIRE_PRINCIPAL',
    description: 'Require an App Service authentication principal (with the restore role) besides the function key.',
    default: 'true',
    schema: bool,
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
  if (problems.length > 0) {
    throw new KvGuardError('InvalidConfiguration', `Invalid configuration: ${problems.join(' | ')}`, {
      field: problems[0]!.split(/[= ]/)[0],
    });
  }
  return { ...settings, vaults: toVaultTargets(settings) };
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
      types: entry.types ?? settings.objectTypes,
      critical: entry.critical ?? settings.critical,
    });
  }
  return [...seen.values()];
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

/**
 * The catalog name for a `vault` parameter: a configured vault by URL or name, else the name a URL maps to, else
 * the text itself (the catalog keeps backups of vaults that are no longer configured).
 */
export function catalogVaultName(config: Pick<KvGuardConfig, 'vaults'>, text: string): string {
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

/**
 * The object types a vault's runs cover: its configured types, or every type for a vault no longer configured.
 * @param config - the configuration holding the vaults
 */
export function typesOfVault(config: Pick<KvGuardConfig, 'vaults'>): (vault: string) => readonly ObjectType[] {
  return (vault) => findVault(config, vault)?.types ?? OBJECT_TYPES;
}
