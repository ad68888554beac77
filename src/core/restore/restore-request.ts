import { z } from 'zod';
import { OBJECT_TYPES, type ObjectType } from '../domain';

/** What to do when a target name is taken. A live object is never overwritten or deleted, whatever the policy. */
export type ConflictPolicy = 'fail' | 'skip' | 'recover' | 'purge';

/** Every conflict policy, `fail` (the default) first. */
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['fail', 'skip', 'recover', 'purge'];

/** A vault as a restore request names it: the catalog name and the URL. */
export interface VaultRef {
  name: string;
  url: string;
}

/**
 * A validated restore request. It is plain JSON (times as ISO text) because a long restore stores it in the state
 * store and a queue job picks it up there.
 */
export interface RestoreRequest {
  /** The vault whose backups are restored (the catalog is keyed by its name). */
  source: VaultRef;
  /** The vault restored into; the source unless `targetVault` was given. */
  target: VaultRef;
  objectType?: ObjectType;
  /** One object; absent means every object of the vault (optionally of `objectType`). */
  name?: string;
  /** Use the newest backup taken at or before this instant (ISO); absent means the newest. */
  asOf?: string;
  /** One exact backup blob instead of "the newest as of". */
  backup?: string;
  onConflict: ConflictPolicy;
  dryRun: boolean;
  /** `portable`: restore from the portable exports (any vault, any geography); absent: the opaque backups. */
  format?: 'portable';
  /** Portable restores of one object: the name to restore it under (default: its own). */
  targetName?: string;
}

/** What validating a request needs from outside the core. */
export interface RestoreRequestContext {
  /** Finds a configured vault by URL or name; undefined when kvguard does not protect it. */
  resolveVault: (urlOrName: string) => VaultRef | undefined;
  /** The current instant (a future `asOf` is refused). */
  now: Date;
}

/** A client clock may run a little ahead of ours; an `asOf` up to this far in the future means "now". */
export const AS_OF_CLOCK_SKEW_MS = 60_000;

/** Key Vault object names: 1-127 letters, digits and dashes. */
export const keyVaultObjectName = z
  .string()
  .min(1, 'must not be empty')
  .max(127, 'must be at most 127 characters (Key Vault limit)')
  .regex(/^[0-9a-zA-Z-]+$/, 'must hold only letters, digits and dashes (Key Vault object name rules)');

const vaultText = z
  .string()
  .trim()
  .min(1, 'must name a vault (URL or name)')
  .max(300, 'must be at most 300 characters');

/** The fields of a restore body, as sent over HTTP (`POST /api/restore`). */
export const restoreBodyShape = {
  vault: vaultText,
  objectType: z
    .enum(OBJECT_TYPES as [ObjectType, ...ObjectType[]], { error: "must be 'key', 'secret' or 'certificate'" })
    .optional(),
  name: keyVaultObjectName.optional(),
  asOf: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z' })
    .optional(),
  backup: z
    .string()
    .min(1, 'must not be empty')
    .max(1024, 'must be at most 1024 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'must be a backup blob name as GET /api/backups lists it')
    .refine((v) => !v.split('/').includes('..'), 'must not contain ".." segments')
    .optional(),
  targetVault: vaultText.optional(),
  onConflict: z
    .enum(CONFLICT_POLICIES as [ConflictPolicy, ...ConflictPolicy[]], {
      error: "must be 'fail', 'skip', 'recover' or 'purge'",
    })
    .default('fail'),
  dryRun: z.boolean({ error: 'must be true or false' }).default(false),
  format: z
    .enum(['opaque', 'portable'], {
      error: "must be 'opaque' (Key Vault's own backups, same subscription and geography) or 'portable'",
    })
    .default('opaque'),
  targetName: keyVaultObjectName.optional(),
};

/**
 * An object schema that refuses unknown fields and names them (zod's `.strict()` reports them at the root, so a
 * 400 could not say which field was wrong).
 * @param shape - the known fields
 * @param what - what the fields belong to, for the message (`a restore request`, `GET /api/backups`)
 */
export function strictFields<S extends z.ZodRawShape>(shape: S, what: string) {
  const known = Object.keys(shape);
  return z.looseObject(shape).superRefine((value, ctx) => {
    const unknown = Object.keys(value).find((field) => !known.includes(field));
    if (unknown !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: [unknown],
        message: `is not a field of ${what} (known: ${known.join(', ')})`,
      });
  });
}

/**
 * The schema of a restore body, bound to the configured vaults and the current time. It refuses unknown fields,
 * vaults kvguard does not protect, a future `asOf`, and `asOf` together with `backup`, naming the field each time;
 * its output is a {@link RestoreRequest}.
 */
export function restoreRequestSchema(context: RestoreRequestContext): z.ZodType<RestoreRequest, unknown> {
  return strictFields(restoreBodyShape, 'a restore request').transform((body, ctx): RestoreRequest => {
    const fail = (field: string, message: string): never => {
      ctx.addIssue({ code: 'custom', path: [field], message });
      return z.NEVER;
    };
    const source = resolveField(context, 'vault', body.vault, fail);
    const target =
      body.targetVault === undefined ? source : resolveField(context, 'targetVault', body.targetVault, fail);
    if (body.asOf !== undefined && Date.parse(body.asOf) > context.now.getTime() + AS_OF_CLOCK_SKEW_MS) {
      return fail('asOf', `${JSON.stringify(body.asOf)} is in the future; a restore can only go back in time`);
    }
    if (body.asOf !== undefined && body.backup !== undefined) {
      return fail('asOf', 'give either asOf or backup, not both: backup already names one exact blob');
    }
    if (body.format === 'portable' && body.backup !== undefined) {
      return fail('backup', 'names an opaque backup blob; a portable restore chooses its export by name and asOf');
    }
    if (body.targetName !== undefined && body.format !== 'portable') {
      return fail('targetName', "needs format 'portable': an opaque Key Vault backup restores under its own name only");
    }
    if (body.targetName !== undefined && body.name === undefined) {
      return fail('targetName', 'needs name: only one object can be restored under another name');
    }
    return {
      source,
      target,
      ...(body.objectType === undefined ? {} : { objectType: body.objectType }),
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.asOf === undefined ? {} : { asOf: new Date(body.asOf).toISOString() }),
      ...(body.backup === undefined ? {} : { backup: body.backup }),
      onConflict: body.onConflict,
      dryRun: body.dryRun,
      ...(body.format === 'portable' ? { format: 'portable' as const } : {}),
      ...(body.targetName === undefined ? {} : { targetName: body.targetName }),
    };
  });
}

function resolveField(
  context: RestoreRequestContext,
  field: string,
  text: string,
  fail: (field: string, message: string) => never,
): VaultRef {
  if (text.includes('://') && !URL.canParse(text)) return fail(field, `${JSON.stringify(text)} is not a valid URL`);
  const vault = context.resolveVault(text);
  if (!vault) return fail(field, `${JSON.stringify(text)} is not a vault kvguard protects (see KVGUARD_VAULTS)`);
  return { name: vault.name, url: vault.url };
}

/** True when the request restores every object of the vault (no name, no exact blob). */
export function isWholeVaultRequest(request: Pick<RestoreRequest, 'name' | 'backup'>): boolean {
  return request.name === undefined && request.backup === undefined;
}
