import { mapWithConcurrency } from '../concurrency';
import { describeError } from '../errors';
import type { Clock, KeyWrapper } from '../ports';
import { rewrapEnvelope } from './envelope';
import type { EnvelopeRef, PortableStore } from './portable-store';

/** What `kvguard rewrap` did for one vault (no secret material). */
export interface RewrapReport {
  vault: string;
  /** The KEK version every envelope is now wrapped by. */
  kekId: string;
  /** Versions whose data key was wrapped again under `kekId` (one new envelope each). */
  rewrapped: number;
  /** Versions that already had an envelope under `kekId`. */
  current: number;
  failed: { blobName: string; code: string; reason: string }[];
}

/** Envelopes rewrapped at once: each is one unwrap and one wrap call on the KEK's vault. */
const REWRAP_CONCURRENCY = 4;

/**
 * Re-wraps the data key of every stored version of a vault whose newest envelope is wrapped by an older KEK version:
 * a new envelope with the same ciphertext is stored create-only beside the old one (restores take the newest), so
 * once a vault's report shows no failures, the old KEK version can be disabled. The data is never decrypted.
 * @param deps - the portable store, the KEK, a clock
 * @param vault - the vault whose exports are rewrapped
 */
export async function rewrapVault(
  deps: { store: PortableStore; kek: KeyWrapper; clock: Clock },
  vault: string,
): Promise<RewrapReport> {
  const kekId = await deps.kek.currentKeyId();
  const groups = new Map<string, EnvelopeRef[]>();
  for (const ref of await deps.store.listEnvelopes(vault)) {
    const key = `${ref.objectKey}|${ref.version}|${ref.digest}`;
    groups.set(key, [...(groups.get(key) ?? []), ref]);
  }
  const report: RewrapReport = { vault, kekId, rewrapped: 0, current: 0, failed: [] };
  const stale = [...groups.values()].filter((refs) => {
    const isCurrent = refs.some((r) => r.keyId === kekId);
    if (isCurrent) report.current += 1;
    return !isCurrent;
  });
  await mapWithConcurrency(stale, REWRAP_CONCURRENCY, async (refs) => {
    const newest = [...refs].sort((a, b) => b.sealedAt.localeCompare(a.sealedAt))[0]!;
    try {
      const envelope = await deps.store.readEnvelope(newest.blobName);
      await deps.store.putEnvelope(await rewrapEnvelope(envelope, deps.kek, deps.clock.now()), newest.digest);
      report.rewrapped += 1;
    } catch (error) {
      report.failed.push({ blobName: newest.blobName, ...describeError(error) });
    }
  });
  return report;
}
