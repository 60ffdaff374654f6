import type { Collection, ListQuery } from '../../storage-adapters/meta/meta-store.js';

/**
 * One page of `collection`: equality on stored fields goes to the store (`where`), anything else (`keep`) is
 * checked here while reading in batches. Enough for users, projects, robots; the audit log pushes equality down.
 */
export async function listMatching<T extends { id: number }>(
  collection: Collection<T>,
  opts: { where?: ListQuery<T>['where']; keep?: (doc: T) => boolean; order?: 'asc' | 'desc'; offset: number; limit: number },
): Promise<{ items: T[]; total: number }> {
  if (!opts.keep) {
    return collection.list({ ...(opts.where && { where: opts.where }), ...(opts.order && { order: opts.order }), offset: opts.offset, limit: opts.limit });
  }
  const items: T[] = [];
  let total = 0;
  for (let offset = 0; ; offset += 500) {
    const batch = await collection.list({ ...(opts.where && { where: opts.where }), ...(opts.order && { order: opts.order }), offset, limit: 500 });
    for (const doc of batch.items) {
      if (!opts.keep(doc)) continue;
      if (total >= opts.offset && items.length < opts.limit) items.push(doc);
      total++;
    }
    if (batch.items.length < 500) return { items, total };
  }
}
