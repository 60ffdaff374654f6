import { compareVersions, type TagVersion } from './hlc.js';

// The tag-write rule (MetaStore's TagWriteResult), as one pure function. The sqlite driver calls it inside its
// transaction; the Redis driver's Lua `writetag` is a line-by-line port, and test/unit/tag-write.test.ts runs the
// same table of cases against this function and, through putManifest/deleteTag, against both drivers.

/** A tag's stored record: digest null for a tombstone. */
export interface StoredTag {
  digest: string | null;
  version: TagVersion;
}

export type TagWriteDecision =
  /** Write `digest` at `version` and append tag.put / tag.delete. */
  | { result: 'applied'; version: TagVersion }
  /** Nothing moves and nothing is appended; when `raiseTo` is set the stored version becomes it. */
  | { result: 'unchanged'; raiseTo?: TagVersion }
  /** A replicated write older than what is stored: nothing changes. */
  | { result: 'stale' };

/**
 * Decides a write of `digest` (null: delete) at `version` against the stored record. `replicated`: the write came
 * from another IDC (last-writer-wins); otherwise it is local and never loses — when the stored version is not
 * older it applies just after it (same wall, logical + 1, the writer's IDC).
 */
export function decideTagWrite(stored: StoredTag | undefined, digest: string | null, version: TagVersion, replicated: boolean): TagWriteDecision {
  if (!stored) return digest === null ? { result: 'unchanged' } : { result: 'applied', version };
  const order = compareVersions(stored.version, version);
  if (stored.digest === digest) {
    if (order > 0) return replicated ? { result: 'stale' } : { result: 'unchanged' };
    // Nothing moved, so no event; the newer version still counts for later comparisons.
    return order < 0 ? { result: 'unchanged', raiseTo: version } : { result: 'unchanged' };
  }
  if (order > 0 && replicated) return { result: 'stale' };
  // Another instance's clock may run behind ours: the client's later write must still win.
  if (order >= 0 && !replicated) return { result: 'applied', version: { wall: stored.version.wall, logical: stored.version.logical + 1, idc: version.idc } };
  return { result: 'applied', version };
}
