import type { Digest } from '../core/digest.js';
import type { Logger } from '../core/log.js';
import type { BlobStore } from '../storage-adapters/blob/blob-store.js';
import type { ManifestRecord, MetaStore } from '../storage-adapters/meta/meta-store.js';
import { releaseUsage } from './quotas.js';

// Online mark and sweep. The mark is a snapshot and only proposes candidates; every deletion is re-decided by the
// MetaStore in one atomic step against the writes that happened since (MetaStore, "online GC"):
// - mark: in each repository, manifests reachable from live tags (index children, and referrers of anything
//   kept), plus every manifest put or touched within the grace period;
// - sweep: each unreachable manifest is deleted only if, at that moment, it is untagged, no manifest here lists
//   it as a child, its subject is gone and nobody put or touched it since the cutoff (parents go first, so passes
//   repeat until nothing more goes); each blob link only if no manifest of the repository references it and it
//   was not linked or touched since the cutoff; blob bytes only under a fence, granted when nothing links,
//   indexes or pins the digest, which keeps every pusher out until the bytes are gone; stale upload sessions.
// A re-tag, a re-push, a HEAD (touch) or a mount during the run therefore keeps what it uses, and a push that
// relies on something already swept is refused (MANIFEST_BLOB_UNKNOWN), never acknowledged and then lost.
// A lock in the MetaStore keeps two collectors (two instances, or `berth gc` beside `berth serve`) apart.

const FENCE_TTL_MS = 5 * 60 * 1000;

export interface GcOptions {
  graceMs: number;
  uploadTtlMs: number;
  dryRun?: boolean;
  /** Harbor's delete_untagged false: every manifest is kept, tagged or not; only blobs none references, and stale
   *  uploads, go. */
  keepUntagged?: boolean;
  now?: () => number;
}

export interface GcReport {
  skipped?: 'locked';
  repositories: number;
  manifestsDeleted: number;
  linksDeleted: number;
  blobsDeleted: number;
  bytesFreed: number;
  uploadsPurged: number;
  ms: number;
}

export interface GcStores {
  blobs: BlobStore;
  meta: MetaStore;
  log: Logger;
}

export async function collectGarbage(stores: GcStores, opts: GcOptions): Promise<GcReport> {
  const { blobs, meta, log } = stores;
  const now = opts.now ?? Date.now;
  const started = now();
  const cutoff = started - opts.graceMs;
  const report: GcReport = { repositories: 0, manifestsDeleted: 0, linksDeleted: 0, blobsDeleted: 0, bytesFreed: 0, uploadsPurged: 0, ms: 0 };
  const lock = await meta.acquireLock('gc', 30 * 60 * 1000);
  if (!lock) return { ...report, skipped: 'locked' };
  try {
    const live = new Set<string>();
    for await (const repository of allRepositories(meta)) {
      report.repositories++;
      const kept = await markRepository(meta, repository, cutoff, opts.keepUntagged ?? false);
      const referenced = new Set<string>();
      for (const m of kept.records) {
        live.add(m.digest);
        for (const b of m.blobs) {
          live.add(b);
          referenced.add(b);
        }
      }
      const version = { wall: started, logical: 0, idc: 'gc' };
      const deleted = await sweepManifests(meta, repository, kept.unreachable, cutoff, version, opts.dryRun ?? false);
      const swept: Digest[] = [];
      for (const m of kept.unreachable) {
        if (!deleted.has(m.digest)) {
          live.add(m.digest); // kept after all: what it references stays too
          for (const b of m.blobs) referenced.add(b);
          continue;
        }
        log.info({ repository, digest: m.digest }, 'gc: manifest unreachable');
        report.manifestsDeleted++;
        swept.push(m.digest);
      }
      for (const link of await meta.listBlobLinks(repository)) {
        if (referenced.has(link.digest) || link.linkedAt >= cutoff) {
          live.add(link.digest);
          continue;
        }
        if (opts.dryRun || (await meta.sweepBlobLink(repository, link.digest, cutoff))) {
          report.linksDeleted++;
          swept.push(link.digest);
        } else live.add(link.digest);
      }
      // The project's quota gives back what no other repository of it still holds.
      if (!opts.dryRun) await releaseUsage(meta, repository, swept);
    }
    // Repositories holding only links (blobs pushed, no manifest yet) are not listed above: their links are swept
    // here, under the same rule, before the bytes' fence is asked for.
    for await (const info of blobs.list()) {
      if (live.has(info.digest) || info.createdAt >= cutoff) continue;
      if (opts.dryRun) {
        report.blobsDeleted++;
        report.bytesFreed += info.size;
        continue;
      }
      for (const repository of await meta.blobRepositories(info.digest)) {
        if (await meta.sweepBlobLink(repository, info.digest, cutoff)) {
          report.linksDeleted++;
          await releaseUsage(meta, repository, [info.digest]);
        }
      }
      const fence = await meta.fenceBlob(info.digest, FENCE_TTL_MS);
      if (!fence) continue; // linked, indexed or being pushed again since the mark
      try {
        await blobs.delete(info.digest);
      } finally {
        await fence.release();
      }
      report.blobsDeleted++;
      report.bytesFreed += info.size;
    }
    // Best effort: sessions finish while they are listed (a state object read as it is deleted); the next run
    // purges what this one could not.
    report.uploadsPurged = await purgeUploads(stores, now() - opts.uploadTtlMs, cutoff, opts.dryRun ?? false).catch((err: unknown) => {
      log.warn({ err }, 'gc: purging upload sessions stopped early');
      return 0;
    });
  } finally {
    await lock.release();
  }
  report.ms = now() - started;
  log.info(report, 'gc: done');
  return report;
}

/** Deletes what the MetaStore still agrees is unreachable; parents before children, referrers after subjects,
 *  so passes repeat while any goes. Returns the digests deleted (in a dry run, all candidates). */
async function sweepManifests(
  meta: MetaStore,
  repository: string,
  candidates: ManifestRecord[],
  cutoff: number,
  version: { wall: number; logical: number; idc: string },
  dryRun: boolean,
): Promise<Set<string>> {
  const deleted = new Set<string>();
  if (dryRun) {
    for (const m of candidates) deleted.add(m.digest);
    return deleted;
  }
  for (let progress = true; progress; ) {
    progress = false;
    for (const m of candidates) {
      if (deleted.has(m.digest)) continue;
      if (await meta.sweepManifest(repository, m.digest, cutoff, version)) {
        deleted.add(m.digest);
        progress = true;
      }
    }
  }
  return deleted;
}

async function* allRepositories(meta: MetaStore): AsyncIterable<string> {
  let last: string | undefined;
  for (;;) {
    const page = await meta.listRepositories({ last, n: 500 });
    yield* page;
    if (page.length < 500) return;
    last = page[page.length - 1];
  }
}

async function markRepository(meta: MetaStore, repository: string, cutoff: number, keepUntagged: boolean): Promise<{ records: ManifestRecord[]; unreachable: ManifestRecord[] }> {
  const manifests = await meta.listManifests(repository);
  const byDigest = new Map(manifests.map((m) => [m.digest as string, m]));
  const referrers = new Map<string, Digest[]>();
  for (const m of manifests) {
    if (m.subject) referrers.set(m.subject, [...(referrers.get(m.subject) ?? []), m.digest]);
  }
  const roots: string[] = [];
  for (const t of await meta.listTagRecords(repository)) if (t.digest) roots.push(t.digest);
  for (const m of manifests) if (keepUntagged || m.createdAt >= cutoff) roots.push(m.digest);
  const keep = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const d = stack.pop()!;
    if (keep.has(d)) continue;
    keep.add(d);
    const m = byDigest.get(d);
    if (m) stack.push(...m.children);
    stack.push(...(referrers.get(d) ?? []));
  }
  return {
    records: manifests.filter((m) => keep.has(m.digest)),
    unreachable: manifests.filter((m) => !keep.has(m.digest)),
  };
}

/** Sessions idle past their TTL, and staged uploads no session knows (a crash between the two writes). */
async function purgeUploads(stores: GcStores, expiredBefore: number, orphanBefore: number, dryRun: boolean): Promise<number> {
  const { blobs, meta } = stores;
  let purged = 0;
  const sessions = new Map((await meta.listUploads()).map((s) => [s.id, s]));
  for await (const u of blobs.listUploads()) {
    const s = sessions.get(u.id);
    const stale = s ? s.startedAt < expiredBefore : u.startedAt < orphanBefore;
    if (!stale) continue;
    purged++;
    if (dryRun) continue;
    await blobs.abortUpload(u.id);
    if (s) await meta.deleteUpload(u.id);
  }
  for (const s of sessions.values()) {
    if (s.startedAt < expiredBefore && !dryRun) await meta.deleteUpload(s.id);
  }
  return purged;
}
