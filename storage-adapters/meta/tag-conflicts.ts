import type { Collection, MetaStore } from './meta-store.js';

// Conflicts between IDCs, as the receiving registry saw them: a replicated tag write met a live value the
// sender had not seen (concurrent writes of one tag in two IDCs); last-writer-wins kept one. The registry
// (server/oci/manifests.ts) records them and the replicator's API (replicator/api.ts) lists them; the record
// lives here because neither may import the other.

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
  /** 'incoming': the replicated write replaced the local value; 'local': the local value was newer and stayed. */
  winner: 'incoming' | 'local';
  /** ISO time. */
  at: string;
}

export function tagConflicts(meta: MetaStore): Collection<TagConflictRecord> {
  return meta.collection<TagConflictRecord>('replication_conflicts');
}
