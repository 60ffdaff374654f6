import type { Digest } from '../../core/digest.js';
import type { Logger } from '../../core/log.js';
import type { BlobStore } from '../../storage-adapters/blob/blob-store.js';
import type { ManifestRecord, MetaStore } from '../../storage-adapters/meta/meta-store.js';

// Mark and sweep, safe while pushes go on:
// - mark: in each repository, manifests reachable from live tags (index children, and referrers of anything
//   kept), plus every manifest younger than the grace period (an index's children arrive before the index);
// - sweep: unreachable manifests; blob links no kept manifest uses and older than the grace period; then blob
//   bytes that nothing kept references and that are older than the grace period; stale upload sessions.
// A lock in the MetaStore keeps two collectors (two instances, or `berth gc` beside `berth serve`) apart.

export interface GcOptions {
  graceMs: number;
  uploadTtlMs: number;
  dryRun?: boolean;
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
      const kept = await markRepository(meta, repository, cutoff);
      const referenced = new Set<string>();
      for (const m of kept.records) {
        live.add(m.digest);
        for (const b of m.blobs) {
          live.add(b);
          referenced.add(b);
        }
      }
      for (const m of kept.unreachable) {
        log.info({ repository, digest: m.digest }, 'gc: manifest unreachable');
        report.manifestsDeleted++;
        if (!opts.dryRun) await meta.deleteManifest(repository, m.digest, { wall: started, logical: 0, idc: 'gc' }, 'gc');
      }
      for (const link of await meta.listBlobLinks(repository)) {
        if (referenced.has(link.digest) || link.linkedAt >= cutoff) {
          live.add(link.digest);
          continue;
        }
        report.linksDeleted++;
        if (!opts.dryRun) await meta.unlinkBlob(repository, link.digest);
      }
    }
    // Repositories holding only links (blobs pushed, no manifest yet) are not listed above: their young links
    // are protected by the blob's own age below, their old ones go with the blob.
    for await (const info of blobs.list()) {
      if (live.has(info.digest) || info.createdAt >= cutoff) continue;
      report.blobsDeleted++;
      report.bytesFreed += info.size;
      if (opts.dryRun) continue;
      for (const repository of await meta.blobRepositories(info.digest)) await meta.unlinkBlob(repository, info.digest);
      await blobs.delete(info.digest);
    }
    report.uploadsPurged = await purgeUploads(stores, now() - opts.uploadTtlMs, cutoff, opts.dryRun ?? false);
  } finally {
    await lock.release();
  }
  report.ms = now() - started;
  log.info(report, 'gc: done');
  return report;
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

async function markRepository(meta: MetaStore, repository: string, cutoff: number): Promise<{ records: ManifestRecord[]; unreachable: ManifestRecord[] }> {
  const manifests = await meta.listManifests(repository);
  const byDigest = new Map(manifests.map((m) => [m.digest as string, m]));
  const referrers = new Map<string, Digest[]>();
  for (const m of manifests) {
    if (m.subject) referrers.set(m.subject, [...(referrers.get(m.subject) ?? []), m.digest]);
  }
  const roots: string[] = [];
  for (const t of await meta.listTagRecords(repository)) if (t.digest) roots.push(t.digest);
  for (const m of manifests) if (m.createdAt >= cutoff) roots.push(m.digest);
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
