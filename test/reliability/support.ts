/**
 * Shared parts of the reliability suite: its scale (small inside `npm test`, full under `npm run test:reliability`),
 * the figures it prints, and the canary search over logs, telemetry and stored non-backup blobs.
 */
import { randomBytes } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { Logger, Telemetry } from '../../src/core/ports';

/** `full` under `npm run test:reliability`; `small` (the default) inside `npm test`. */
export const FULL = process.env.KVGUARD_RELIABILITY === 'full';

/** Sizes of the suite's runs. */
export const SCALE = FULL
  ? { secrets: 60, keys: 30, kills: 4, fuzzRuns: 600, webhookRuns: 200, queueRuns: 300, events: 24 }
  : { secrets: 10, keys: 4, kills: 1, fuzzRuns: 120, webhookRuns: 40, queueRuns: 80, events: 4 };

/** Per-test time limit: runs spawn CLI processes and wait out retry backoff, which a busy 2-core machine stretches. */
export const TEST_TIMEOUT_MS = FULL ? 900_000 : 240_000;

/** Prints one section's figures as a single line (`reliability <section> {json}`), so every figure is in the log. */
export function printFigures(section: string, figures: Record<string, unknown>): void {
  process.stdout.write(`reliability ${section} ${JSON.stringify({ scale: FULL ? 'full' : 'small', ...figures })}\n`);
}

/** A secret value no log line, telemetry item or non-backup blob may ever contain. */
export function canaryValue(): string {
  return `kvguard-canary-${randomBytes(12).toString('hex')}`;
}

/** Everything text-shaped the suite saw, searched for canary values at the end. */
export class CanarySearch {
  private readonly texts: string[] = [];
  readonly canaries: string[] = [];
  logLines = 0;
  telemetryItems = 0;
  blobs = 0;

  /** A new canary value, remembered for the search. */
  canary(): string {
    const value = canaryValue();
    this.canaries.push(value);
    return value;
  }

  /** A logger that keeps every line (JSON, as the console logger writes it). */
  logger(): Logger {
    const keep = (level: string) => (message: string, properties?: Record<string, unknown>) => {
      this.logLines += 1;
      this.texts.push(JSON.stringify({ level, message, ...properties }));
    };
    return { info: keep('info'), warn: keep('warn'), error: keep('error') };
  }

  /** Telemetry that keeps every event and metric. */
  telemetry(): Telemetry {
    return {
      event: (name, properties, measurements) => {
        this.telemetryItems += 1;
        this.texts.push(JSON.stringify({ name, properties, measurements }));
      },
      metric: (name, value, properties) => {
        this.telemetryItems += 1;
        this.texts.push(JSON.stringify({ name, value, properties }));
      },
    };
  }

  /** Keeps raw output (a child process's stdout and stderr, a host's log lines). */
  addOutput(text: string): void {
    this.logLines += text.split('\n').filter(Boolean).length;
    this.texts.push(text);
  }

  /** Reads every blob of a container except the opaque Key Vault backups (`backups/…kvbak`). */
  async addContainer(container: ContainerClient): Promise<void> {
    if (!(await container.exists())) return;
    for await (const blob of container.listBlobsFlat({ includeMetadata: true })) {
      if (blob.name.startsWith('backups/') && blob.name.endsWith('.kvbak')) {
        this.texts.push(JSON.stringify(blob.metadata ?? {}));
        continue;
      }
      this.blobs += 1;
      this.texts.push((await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8'));
      this.texts.push(JSON.stringify(blob.metadata ?? {}));
    }
  }

  /**
   * Reads the given containers (see {@link addContainer}), prints the search's figures as `section`, and answers the
   * canary values found anywhere (none expected).
   */
  async searchAndReport(section: string, connectionString: string, containers: string[]): Promise<string[]> {
    const blobs = BlobServiceClient.fromConnectionString(connectionString);
    for (const name of containers) await this.addContainer(blobs.getContainerClient(name));
    const hits = this.hits();
    printFigures(section, {
      canaries: this.canaries.length,
      logLines: this.logLines,
      telemetryItems: this.telemetryItems,
      nonBackupBlobs: this.blobs,
      found: hits.length,
    });
    return hits;
  }

  /** Canary values found anywhere (none expected). */
  hits(): string[] {
    return this.canaries.filter((canary) => this.texts.some((text) => text.includes(canary)));
  }
}
