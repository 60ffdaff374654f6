// The Redis MetaStore's key layout. Keys (all under `keyPrefix`; with Cluster the prefix is a hash tag, so every
// key lives in one slot and the scripts may touch several):
//   repos                       ZSET  repositories holding a manifest or a live tag (score 0: lexical order)
//   repo:<r>:manifests          HASH  digest → ManifestRecord JSON
//   repo:<r>:tags               HASH  tag → "<digest|-> <wall> <logical> <idc>" ("-": tombstone)
//   repo:<r>:live               ZSET  live tag names
//   repo:<r>:bydigest           ZSET  "<digest> <tag>" for live tags (deleteManifest finds the tags on a digest)
//   repo:<r>:referrers          ZSET  "<subject> <digest>"
//   repo:<r>:links              HASH  digest → "<size> <linkedAt>" (linkedAt: last linked or touched)
//   repo:<r>:refs               ZSET  "<ref> b|c <manifest>": the blobs (b) and children (c) each manifest references
//   repo:<r>:mtouch             HASH  digest → when a client last relied on the manifest (online GC)
//   bloblinks                   ZSET  "<digest> <repository>"
//   manifestrepos               ZSET  "<digest> <repository>" for every indexed manifest
//   guard:<digest>              HASH  id → "pin|fence <expiresAt>": writers storing bytes, a collector deleting them
//   schema:gcrefs               STRING set once refs/mtouch/manifestrepos were built for data written before them
//   uploads                     HASH  id → UploadSession JSON
//   outbox, outbox:seq          ZSET  score seq, member "<seq> <event JSON>"; INCR counter
//   lock:<name>                 STRING owner token, with PX expiry
//   usage:<scope>:items         HASH  item → "<size> <chargedAt>" (a usage ledger: quotas)
//   usage:<scope>:total         STRING the ledger's total
//   col:<name>:{seq,docs,ids,claims,unique:<field>}   documents, ids in order, unique values → id
// Names (repositories, tags, digests, IDCs) contain no spaces (their grammars forbid it), so a space separates.

/** A per-repository key. */
export function rk(repository: string, part: string): string {
  return `repo:${repository}:${part}`;
}

/** The keys every repository script takes, in the order its `local k = {...}` names them (lua-repository.ts). */
export function repoKeys(repository: string): string[] {
  return [
    'repos',
    rk(repository, 'manifests'),
    rk(repository, 'tags'),
    rk(repository, 'live'),
    rk(repository, 'bydigest'),
    rk(repository, 'referrers'),
    'outbox',
    'outbox:seq',
    rk(repository, 'refs'),
    rk(repository, 'mtouch'),
    'manifestrepos',
    rk(repository, 'links'),
    'bloblinks',
  ];
}

/** Written once the GC indexes exist for data stored before them; sweeps keep everything until then. */
export const gcIndexesBuilt = 'schema:gcrefs';

export function guardKey(digest: string): string {
  return `guard:${digest}`;
}

export function lockKey(name: string): string {
  return `lock:${name}`;
}

/** A key of record collection `name`. */
export function collectionKey(name: string, part: string): string {
  return `col:${name}:${part}`;
}

/** A key of usage ledger `scope`. */
export function usageKey(scope: string, part: 'items' | 'total'): string {
  return `usage:${scope}:${part}`;
}
