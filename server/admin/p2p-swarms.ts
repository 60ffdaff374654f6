import type Router from '@koa/router';
import { parseDigest } from '../../core/digest.js';
import { RegistryError } from '../../core/errors.js';
import { badRequest, notFound } from '../../core/harbor-api/errors.js';
import { requireSysadmin, type AdminDeps } from './context.js';

// Berth's own GET /api/v2.0/berth/p2p/swarms/{digest}: the peers holding a blob, per IDC, for the console's
// swarm picture. System admins only: it names nodes and their addresses.

export function p2pSwarmRoutes(router: Router, a: AdminDeps): void {
  router.get('/berth/p2p/swarms/:digest', async (ctx) => {
    await requireSysadmin(ctx, a);
    let digest;
    try {
      digest = parseDigest(String(ctx.params.digest ?? ''));
    } catch (e) {
      if (e instanceof RegistryError) throw badRequest(`invalid digest ${String(ctx.params.digest).slice(0, 100)}`);
      throw e;
    }
    const view = await a.swarmOf?.(digest);
    if (!view) throw notFound(`no swarm for ${digest}: the blob is not stored here`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = view;
  });
}
