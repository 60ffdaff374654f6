import { compareVersions, formatVersion, parseVersion, type TagVersion } from '../core/hlc.js';
import type { Digest } from '../core/digest.js';
import type { Logger } from '../core/log.js';
import type { Collection, MetaStore, TagRecord, TagWriteResult } from '../storage-adapters/meta/meta-store.js';

// Conflicts between IDCs, as the receiving registry saw them: a replicated tag write met a live value the
// sender had not seen (concurrent writes of one tag in two IDCs); last-writer-wins kept one. Tag writes record
// them here; the replicator's API lists them at /api/v2.0/berth/replication/conflicts.

export interface TagConflictRecord {
  id: number;
  repository: string;
  tag: string;
  /** The value this registry held when the replicated write arrived. */
  local: { digest: string | null; version: string };
  /** The replicated write. */
  incoming: { digest: string | null; version: string };
  /** IDC the replicated write came from. */
  from: string;
  /** 'incoming': the replicated write replaced the local value; 'local': the local value was newer and stayed
   *  (or, with reason 'immutable', the write was refused whatever its version). */
  winner: 'incoming' | 'local';
  /** 'immutable': an immutable tag rule refused the replicated write; both IDCs now hold different values and an
   *  operator decides (delete the rule or the tag on one side). Absent: last-writer-wins decided. */
  reason?: 'immutable';
  /** ISO time. */
  at: string;
}

export function tagConflicts(meta: MetaStore): Collection<TagConflictRecord> {
  return meta.collection<TagConflictRecord>('replication_conflicts');
}

/**
 * Records what last-writer-wins overrode (or kept) when a replicated write met a live value its sender had not
 * seen: the sender names in `base` the version its own value replaced ("none" for nothing), and a live value
 * newer than that base was written concurrently. Without a base nothing is recorded.
 */
export async function recordConflict(
  meta: MetaStore,
  log: Logger,
  write: { repository: string; tag: string; digest: Digest | null; version: TagVersion; origin: string; base?: string },
  before: TagRecord | undefined,
  result: TagWriteResult,
): Promise<void> {
  const baseText = write.base;
  if (!baseText || !before || before.digest === write.digest || result === 'unchanged') return;
  const base = baseText === 'none' ? undefined : parseVersion(baseText);
  if (baseText !== 'none' && !base) return;
  if (base && compareVersions(before.version, base) <= 0) return;
  await tagConflicts(meta)
    .insert({
      repository: write.repository,
      tag: write.tag,
      local: { digest: before.digest, version: formatVersion(before.version) },
      incoming: { digest: write.digest, version: formatVersion(write.version) },
      from: write.origin,
      winner: result === 'applied' ? 'incoming' : 'local',
      at: new Date().toISOString(),
    })
    .catch((err: unknown) => log.warn({ err }, 'recording a replication conflict'));
}

/**
 * Records a replicated write an immutable tag rule refused: the tag holds `before` here and the sender holds
 * another value, so the two IDCs diverge until an operator acts. Recorded once per distinct pair of values.
 */
export async function recordImmutableConflict(
  meta: MetaStore,
  log: Logger,
  write: { repository: string; tag: string; digest: Digest | null; version: TagVersion; origin: string },
  before: TagRecord,
): Promise<void> {
  try {
    const seen = await tagConflicts(meta).list({ where: { repository: write.repository, tag: write.tag, reason: 'immutable' }, limit: 1000 });
    if (seen.items.some((c) => c.local.digest === before.digest && c.incoming.digest === write.digest && c.from === write.origin)) return;
    await tagConflicts(meta).insert({
      repository: write.repository,
      tag: write.tag,
      local: { digest: before.digest, version: formatVersion(before.version) },
      incoming: { digest: write.digest, version: formatVersion(write.version) },
      from: write.origin,
      winner: 'local',
      reason: 'immutable',
      at: new Date().toISOString(),
    });
  } catch (err) {
    log.warn({ err }, 'recording an immutable-tag conflict');
  }
}
