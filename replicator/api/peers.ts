import type Router from '@koa/router';
import { badRequest } from '../../core/harbor-api/errors.js';
import { paging, setPageHeaders } from '../../core/harbor-api/paging.js';
import { queryString } from '../../core/harbor-api/params.js';
import { tagConflicts } from '../../registry/tag-conflicts.js';
import { toWire } from '../tags.js';
import type { ReplicationApiDeps } from './deps.js';

// What Berth peers ask each other: the IDC, tag records with their versions (anti-entropy), and the
// conflicts last-writer-wins resolved.

export function peerRoutes(router: Router, d: ReplicationApiDeps): void {
  router.get('/berth/replication/info', (ctx) => {
    ctx.body = { idc: d.idc };
  });

  router.get('/berth/replication/tags', async (ctx) => {
    const repository = queryString(ctx, 'repository');
    if (!repository) throw badRequest('repository is required');
    const records = await d.meta.listTagRecords(repository);
    ctx.body = { repository, tags: records.map(toWire) };
  });

  router.get('/berth/replication/conflicts', async (ctx) => {
    const repository = queryString(ctx, 'repository');
    const p = paging(ctx);
    const { items, total } = await tagConflicts(d.meta).list({
      ...(repository && { where: { repository } }),
      order: 'desc',
      offset: p.offset,
      limit: p.limit,
    });
    setPageHeaders(ctx, total, p);
    ctx.body = items;
  });
}
