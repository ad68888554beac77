import type { VaultTarget } from '../domain';
import type { Logger } from '../ports';

/** The vault tag that pauses a vault's scheduled backups without a redeployment. */
export const PAUSE_TAG = { name: 'kvguard:paused', value: 'true' } as const;

/**
 * Reads a vault's own tags (an ARM property of the vault resource, not of its objects); undefined when kvguard
 * cannot know them (no resource id configured, or the local emulator).
 */
export interface VaultTagReader {
  /** The vault's tags, or undefined when unknown. */
  tags(target: VaultTarget): Promise<Record<string, string> | undefined>;
}

/** A reader that knows no vault's tags. */
export const noVaultTags: VaultTagReader = { tags: async () => undefined };

/** Why a vault is paused, if it is. */
export interface PauseState {
  paused: boolean;
  /** `setting`: `paused` in its entry or `KVGUARD_PAUSED`; `tag`: the vault tag `kvguard:paused=true`. */
  by?: 'setting' | 'tag';
  /** One sentence saying why, for status and the RPO alert. */
  reason?: string;
}

/**
 * Whether a vault is paused, by setting or by its `kvguard:paused=true` tag. A vault whose tags cannot be read is
 * treated as not paused (backing up is the safe side) and the failure is logged.
 * @param target - the vault and its policy
 * @param tags - reads the vault's tags
 * @param logger - where a failed tag read is reported
 */
export async function pauseState(target: VaultTarget, tags: VaultTagReader, logger?: Logger): Promise<PauseState> {
  if (target.policy?.paused) {
    return {
      paused: true,
      by: 'setting',
      reason: `paused by setting (KVGUARD_VAULTS entry "paused" or KVGUARD_PAUSED)`,
    };
  }
  let vaultTags: Record<string, string> | undefined;
  try {
    vaultTags = await tags.tags(target);
  } catch (error) {
    logger?.warn('vault tags could not be read; treating the vault as not paused', {
      vault: target.name,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
  const tag = Object.entries(vaultTags ?? {}).find(([name]) => name.toLowerCase() === PAUSE_TAG.name);
  if (tag && tag[1].trim().toLowerCase() === PAUSE_TAG.value) {
    return { paused: true, by: 'tag', reason: `paused by the vault tag ${PAUSE_TAG.name}=${PAUSE_TAG.value}` };
  }
  return { paused: false };
}
