import { objectKey, type BackupRecord, type ObjectType, type RetentionPolicy, type VaultTarget } from '../domain';
import type { BackupStore, Clock } from '../ports';
import { newestSucceededRun, type SucceededRun } from '../backup/run-history';

const DAY_MS = 86_400_000;

/** One backup blob and why the plan keeps it or lets it go. */
export interface RetentionDecision {
  blobName: string;
  takenAt: string;
  size: number;
  reason: string;
}

/** What the plan decides for one object's backups. */
export interface ObjectRetention {
  type: ObjectType;
  name: string;
  /** `live`: listed by the vault's newest complete run (or seen since); `gone`: deleted, or no longer selected. */
  state: 'live' | 'gone';
  /** When a run last saw the object in the vault. */
  lastSeenAt?: string;
  keep: RetentionDecision[];
  prune: RetentionDecision[];
}

/** What may be pruned from one vault's backups, and why; kvguard itself never deletes any of it. */
export interface RetentionPlan {
  vault: string;
  generatedAt: string;
  retention: RetentionPolicy;
  /** The newest complete, successful run, whose listing says which objects are live. */
  liveRunId?: string;
  objects: ObjectRetention[];
  totals: { backups: number; keep: number; prune: number; pruneBytes: number };
}

/** Which objects the newest complete run listed, and when each object was last seen by any run. */
interface Sightings {
  live?: SucceededRun;
  lastSeen: Map<string, string>;
}

/**
 * Reads the vault's run manifests newest first for when each object was last seen; stops once every object in
 * `wanted` is placed.
 */
async function readSightings(store: BackupStore, target: VaultTarget, wanted: Set<string>): Promise<Sightings> {
  const sightings: Sightings = { live: await newestSucceededRun(store, target), lastSeen: new Map() };
  for await (const manifest of store.listManifests(target.name)) {
    for (const entry of manifest.entries) {
      const key = objectKey(entry);
      const seen = sightings.lastSeen.get(key);
      if (!seen || seen < manifest.startedAt) sightings.lastSeen.set(key, manifest.startedAt);
    }
    if ([...wanted].every((key) => sightings.lastSeen.has(key))) break;
  }
  return sightings;
}

function isLive(key: string, sightings: Sightings): boolean {
  // Without any complete run nothing can be judged gone; an object seen after the live run began is new, not gone.
  if (sightings.live === undefined || sightings.live.objects.has(key)) return true;
  const seen = sightings.lastSeen.get(key);
  return seen !== undefined && seen >= sightings.live.summary.startedAt;
}

/**
 * Decides, per backup of one object (newest first), whether retention keeps it. Never the last copy: the newest
 * backup of a live object is always kept, and so is the newest of a gone object until `keepDeletedDays` after it
 * was last seen. Otherwise a backup is kept while it is among the `keepLast` newest or younger than `keepDays`.
 */
function decide(
  records: BackupRecord[],
  state: ObjectRetention['state'],
  lastSeenAt: Date,
  retention: RetentionPolicy,
  now: Date,
): { keep: RetentionDecision[]; prune: RetentionDecision[] } {
  const keep: RetentionDecision[] = [];
  const prune: RetentionDecision[] = [];
  const goneDays = (now.getTime() - lastSeenAt.getTime()) / DAY_MS;
  const goneForGood =
    state === 'gone' && retention.keepDeletedDays !== undefined && goneDays > retention.keepDeletedDays;
  records.forEach((record, index) => {
    const ageDays = (now.getTime() - record.takenAt.getTime()) / DAY_MS;
    const decision = (reason: string) => ({
      blobName: record.blobName,
      takenAt: record.takenAt.toISOString(),
      size: record.size,
      reason,
    });
    if (goneForGood) {
      prune.push(
        decision(`object gone from the vault ${Math.floor(goneDays)} d (keepDeletedDays ${retention.keepDeletedDays})`),
      );
    } else if (index === 0) {
      keep.push(
        decision(
          state === 'live'
            ? 'newest backup of a live object'
            : retention.keepDeletedDays === undefined
              ? 'newest backup of a gone object (keepDeletedDays not set: kept forever)'
              : `newest backup of an object gone ${Math.floor(goneDays)} d (keepDeletedDays ${retention.keepDeletedDays})`,
        ),
      );
    } else if (retention.keepDays === undefined && retention.keepLast === undefined) {
      keep.push(decision('no retention limit (keepDays and keepLast not set)'));
    } else if (retention.keepLast !== undefined && index < retention.keepLast) {
      keep.push(decision(`among the ${retention.keepLast} newest (keepLast)`));
    } else if (retention.keepDays !== undefined && ageDays < retention.keepDays) {
      keep.push(decision(`younger than ${retention.keepDays} d (keepDays)`));
    } else {
      const beyond = retention.keepLast === undefined ? '' : ` and not among the ${retention.keepLast} newest`;
      const older = retention.keepDays === undefined ? 'superseded' : `older than ${retention.keepDays} d`;
      prune.push(decision(`${older}${beyond}`));
    }
  });
  return { keep, prune };
}

/**
 * Computes from the catalog and the vault's policy which backups retention lets go, and why. It changes nothing:
 * marking the blobs for the storage's lifecycle rule is {@link markPrunable}'s job.
 * @param store - the catalog
 * @param target - the vault and its policy
 * @param clock - the instant the plan is for
 */
export async function retentionPlan(store: BackupStore, target: VaultTarget, clock: Clock): Promise<RetentionPlan> {
  const now = clock.now();
  const retention = target.policy?.retention ?? {};
  const byObject = new Map<string, BackupRecord[]>();
  for await (const record of store.listBackups({ vault: target.name })) {
    const key = objectKey(record);
    byObject.set(key, [...(byObject.get(key) ?? []), record]);
  }
  const sightings = await readSightings(store, target, new Set(byObject.keys()));
  const objects: ObjectRetention[] = [];
  const totals = { backups: 0, keep: 0, prune: 0, pruneBytes: 0 };
  for (const [key, records] of byObject) {
    records.sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime());
    const state = isLive(key, sightings) ? 'live' : 'gone';
    // A run manifest lost or never written leaves the newest backup as the latest proof the object existed.
    const lastSeen = sightings.lastSeen.get(key) ?? records[0]!.takenAt.toISOString();
    const { keep, prune } = decide(records, state, new Date(lastSeen), retention, now);
    objects.push({ type: records[0]!.type, name: records[0]!.name, state, lastSeenAt: lastSeen, keep, prune });
    totals.backups += records.length;
    totals.keep += keep.length;
    totals.prune += prune.length;
    totals.pruneBytes += prune.reduce((sum, p) => sum + p.size, 0);
  }
  return {
    vault: target.name,
    generatedAt: now.toISOString(),
    retention,
    ...(sightings.live ? { liveRunId: sightings.live.summary.runId } : {}),
    objects,
    totals,
  };
}
