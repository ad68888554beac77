/** Optional persistence: one JSON file per vault, written (debounced) after changes and read back at start. */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Vault } from './vault';

const DEBOUNCE_MS = 100;
/** The state file format this emulator writes and reads; a file of another format is refused, never half-read. */
export const STATE_FORMAT = 1;

interface VaultFile {
  format: typeof STATE_FORMAT;
  keys: unknown[];
  secrets: unknown[];
  certificates: unknown[];
}

/** Writes a vault's state to `dir` shortly after it changes; `flush` writes now. */
export class VaultPersistence {
  private timer: NodeJS.Timeout | undefined;
  private vault: Vault | undefined;

  constructor(
    private readonly dir: string,
    private readonly vaultName: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  private get path(): string {
    return join(this.dir, `${this.vaultName.toLowerCase()}.json`);
  }

  /** Loads saved state into `vault` (if any) and starts tracking it. */
  attach(vault: Vault): void {
    this.vault = vault;
    if (!existsSync(this.path)) return;
    let saved: VaultFile;
    try {
      saved = JSON.parse(readFileSync(this.path, 'utf8')) as VaultFile;
    } catch (error) {
      throw new Error(
        `${this.path} is not valid JSON (${(error as Error).message.split('\n')[0]}); remove it to start empty`,
        { cause: error },
      );
    }
    if (saved?.format !== STATE_FORMAT || ![saved.keys, saved.secrets, saved.certificates].every(Array.isArray)) {
      throw new Error(
        `${this.path} holds emulator state of format ${JSON.stringify(saved?.format)}; this emulator reads format ` +
          `${STATE_FORMAT}: remove the file (or the state folder) to start empty`,
      );
    }
    vault.keys.load(saved.keys as never);
    vault.secrets.load(saved.secrets as never);
    vault.certificates.load(saved.certificates as never);
  }

  /** Schedules a write. */
  changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), DEBOUNCE_MS);
    this.timer.unref();
  }

  /** Writes the current state now (atomically, via a temporary file). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.vault) return;
    const file: VaultFile = {
      format: STATE_FORMAT,
      keys: this.vault.keys.all(),
      secrets: this.vault.secrets.all(),
      certificates: this.vault.certificates.all(),
    };
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, JSON.stringify(file), { mode: 0o600 });
    renameSync(temporary, this.path);
  }
}
