import type { Logger } from '../core/log.js';
import type { BlobStore } from '../storage-adapters/blob/blob-store.js';
import type { MetaStore } from '../storage-adapters/meta/meta-store.js';
import { collectGarbage } from './gc.js';
import { recountAll } from './quotas.js';
import { ScheduledJob } from './scheduled-job.js';

// Harbor's GC job (/system/gc) over the online collector. delete_untagged (the default) removes untagged manifests
// nothing references once they are older than the grace period; false keeps every manifest and collects only the
// blobs none of them references.

export interface GcParameters {
  delete_untagged: boolean;
  dry_run: boolean;
  workers: number;
}

export const DEFAULT_GC_PARAMETERS: GcParameters = { delete_untagged: true, dry_run: false, workers: 1 };

export function gcJob(stores: { blobs: BlobStore; meta: MetaStore; log: Logger }, gc: { graceMs: number; uploadTtlMs: number }): ScheduledJob<GcParameters> {
  return new ScheduledJob<GcParameters>('gc', stores.meta, stores.log, async (p) => {
    const r = await collectGarbage(stores, { ...gc, dryRun: p.dry_run, keepUntagged: !p.delete_untagged });
    if (r.skipped) return { ok: false, lines: ['another collector holds the GC lock; nothing done'] };
    const lines = [`${p.dry_run ? 'dry run: would delete' : 'deleted'} ${r.manifestsDeleted} manifests, ${r.linksDeleted} blob links, ${r.blobsDeleted} blobs (${r.bytesFreed} bytes), purged ${r.uploadsPurged} uploads in ${r.ms} ms`];
    if (!p.delete_untagged) lines.push('untagged manifests kept (delete_untagged is false)');
    // The quota recount: usage made to match what each project holds (drift from a crash between charge and link).
    if (!p.dry_run) {
      const changed = await recountAll(stores.meta, stores.log);
      lines.push(changed.length === 0 ? 'quota usage matches what every project holds' : `quota usage recounted: ${changed.map((c) => `${c.project} ${c.before} → ${c.after}`).join(', ')}`);
    }
    return {
      ok: true,
      lines,
      report: { freed_space: r.bytesFreed, purged_manifests: r.manifestsDeleted, purged_blobs: r.blobsDeleted },
    };
  }, DEFAULT_GC_PARAMETERS);
}
