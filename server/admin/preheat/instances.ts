import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readBody } from '../../../core/harbor-api/body.js';
import { badRequest, conflict, notFound, precondition } from '../../../core/harbor-api/errors.js';
import { pageOf } from '../../../core/harbor-api/paging.js';
import { created, ok } from '../../../core/harbor-api/responses.js';
import { BERTH_VERSION } from '../../../core/version.js';
import { auditChange, projectParam, requireProject, requireSysadmin, type AdminDeps } from '../context.js';
import { BUILT_IN_INSTANCE, PROVIDER, type InstanceRecord, type PreheatRecords } from './records.js';

// Harbor's preheat providers and instances (system admins). Berth drives its own P2P, so `berth` is the one
// provider; instances of it may be added (a second name for the same seed agents, e.g. disabled for a while),
// an instance of another vendor (dragonfly, kraken) is refused: Berth cannot drive those.

const instanceIn = z.object({
  name: z.string().min(1).max(255),
  description: z.string().default(''),
  vendor: z.string().min(1),
  endpoint: z.string().default(''),
  auth_mode: z.string().optional(),
  auth_info: z.record(z.string(), z.string()).optional(),
  enabled: z.boolean().default(true),
  default: z.boolean().default(false),
  insecure: z.boolean().default(false),
});

export interface PreheatApiDeps {
  admin: AdminDeps;
  records: PreheatRecords;
  /** The origin's own URL, the built-in instance's endpoint. */
  endpoint: (ctx: Context) => string;
}

export function instanceOut(r: InstanceRecord) {
  return { ...r, auth_mode: 'NONE', auth_info: {}, status: r.enabled ? 'Healthy' : 'Unknown' };
}

const provider = { id: PROVIDER, name: 'Berth P2P', icon: '', maintainers: ['Berth'], version: BERTH_VERSION, source: 'built-in' };

function checkVendor(vendor: string): void {
  if (vendor !== PROVIDER) throw badRequest(`preheat vendor ${vendor.slice(0, 64)} is not supported: Berth preheats through its own P2P (vendor "${PROVIDER}")`);
}

export function instanceRoutes(router: Router, d: PreheatApiDeps): void {
  const { admin: a, records } = d;
  const all = async (ctx: Context) => {
    await records.builtIn(d.endpoint(ctx));
    return (await records.instances.list({ limit: 1000 })).items;
  };
  const byName = async (ctx: Context) => {
    await records.builtIn(d.endpoint(ctx));
    const r = await records.instances.findOne('name', ctx.params.preheat_instance_name ?? '');
    if (!r) throw notFound(`preheat instance ${String(ctx.params.preheat_instance_name).slice(0, 255)} not found`);
    return r;
  };

  router.get('/p2p/preheat/providers', async (ctx) => {
    await requireSysadmin(ctx, a);
    ctx.body = [provider];
  });
  router.get('/projects/:project_name/preheat/providers', async (ctx) => {
    const project = await projectParam(ctx, a, 'project_name');
    await requireProject(ctx, a, project, 'project.read');
    ctx.body = (await all(ctx)).filter((i) => i.enabled).map((i) => ({ id: i.id, provider: `${i.name}:${i.endpoint}`, enabled: i.enabled, default: i.default }));
  });
  router.post('/p2p/preheat/instances/ping', async (ctx) => {
    await requireSysadmin(ctx, a);
    const body = await readBody(ctx, z.object({ vendor: z.string().optional(), name: z.string().optional(), endpoint: z.string().optional() }).passthrough());
    if (body.vendor) checkVendor(body.vendor);
    // The provider is this registry: it answers when this request does.
    ok(ctx);
  });
  router.get('/p2p/preheat/instances', async (ctx) => {
    await requireSysadmin(ctx, a);
    ctx.body = pageOf(ctx, await all(ctx)).map(instanceOut);
  });
  router.post('/p2p/preheat/instances', async (ctx) => {
    await requireSysadmin(ctx, a);
    const body = await readBody(ctx, instanceIn);
    checkVendor(body.vendor);
    if (await records.instances.findOne('name', body.name)) throw conflict(`preheat instance ${body.name} already exists`);
    if (body.default) for (const i of await all(ctx)) if (i.default) await records.instances.update({ ...i, default: false });
    const r = await records.instances.insert({
      name: body.name,
      description: body.description,
      vendor: PROVIDER,
      endpoint: body.endpoint || d.endpoint(ctx),
      enabled: body.enabled,
      default: body.default,
      insecure: body.insecure,
      setup_timestamp: Math.floor(Date.now() / 1000),
    });
    await auditChange(ctx, a, { operation: 'create', resource_type: 'preheat_instance', resource: r.name, project_id: 0 });
    created(ctx, `/api/v2.0/p2p/preheat/instances/${encodeURIComponent(r.name)}`);
  });
  router.get('/p2p/preheat/instances/:preheat_instance_name', async (ctx) => {
    await requireSysadmin(ctx, a);
    ctx.body = instanceOut(await byName(ctx));
  });
  router.put('/p2p/preheat/instances/:preheat_instance_name', async (ctx) => {
    await requireSysadmin(ctx, a);
    const current = await byName(ctx);
    const body = await readBody(ctx, instanceIn.partial());
    if (body.vendor) checkVendor(body.vendor);
    if (body.name && body.name !== current.name) throw badRequest('a preheat instance cannot be renamed');
    if (body.default) for (const i of await all(ctx)) if (i.default && i.id !== current.id) await records.instances.update({ ...i, default: false });
    await records.instances.update({
      ...current,
      ...(body.description !== undefined && { description: body.description }),
      ...(body.endpoint && { endpoint: body.endpoint }),
      ...(body.enabled !== undefined && { enabled: body.enabled }),
      ...(body.default !== undefined && { default: body.default }),
      ...(body.insecure !== undefined && { insecure: body.insecure }),
    });
    await auditChange(ctx, a, { operation: 'update', resource_type: 'preheat_instance', resource: current.name, project_id: 0 });
    ok(ctx);
  });
  router.delete('/p2p/preheat/instances/:preheat_instance_name', async (ctx) => {
    await requireSysadmin(ctx, a);
    const current = await byName(ctx);
    if (current.name === BUILT_IN_INSTANCE) throw precondition('the built-in preheat instance cannot be deleted; disable it instead');
    const used = (await records.policies.list({ where: { provider_id: current.id }, limit: 1 })).total;
    if (used > 0) throw precondition(`preheat instance ${current.name} is used by ${used} preheat policies`);
    await records.instances.delete(current.id);
    await auditChange(ctx, a, { operation: 'delete', resource_type: 'preheat_instance', resource: current.name, project_id: 0 });
    ok(ctx);
  });
}
