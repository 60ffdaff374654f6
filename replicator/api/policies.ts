import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { parseRepositoryName } from '../../core/names.js';
import { readBody } from '../../core/harbor-api/body.js';
import { badRequest, notFound, precondition } from '../../core/harbor-api/errors.js';
import { pageOf } from '../../core/harbor-api/paging.js';
import { idParam, queryString } from '../../core/harbor-api/params.js';
import { checkTerms, matches, parseQuery, type QueryFields } from '../../core/harbor-api/query.js';
import { created, ok } from '../../core/harbor-api/responses.js';
import { checkFilters, destinationRepository } from '../filters.js';
import { nowIso, type PolicyRecord, type RegistryRecord } from '../records.js';
import type { ReplicationApiDeps } from './deps.js';
import { registryOut } from './registries.js';

// Replication policies (Harbor's /replication/policies): push or pull, which endpoint, filters, trigger.

// `{}` or id 0 is this registry (Harbor: the local side of a push's source or a pull's destination).
const registryRef = z.object({ id: z.number().int().min(0).optional() }).passthrough().nullish();
const filterIn = z.object({
  type: z.enum(['name', 'tag', 'resource', 'label']),
  // A label filter's value is a list of label names (Harbor's shape); the others are one string.
  value: z.union([z.string(), z.number().transform(String), z.array(z.string())]),
  decoration: z.enum(['matches', 'excludes']).default('matches'),
});
const policyIn = z.object({
  name: z.string().min(1).max(255),
  description: z.string().default(''),
  src_registry: registryRef,
  dest_registry: registryRef,
  dest_namespace: z.string().default(''),
  dest_namespace_replace_count: z.number().int().min(-1).max(127).nullish(),
  filters: z.array(filterIn).nullish(),
  trigger: z
    .object({ type: z.enum(['manual', 'scheduled', 'event_based']), trigger_settings: z.object({ cron: z.string().default('') }).nullish() })
    .nullish(),
  replicate_deletion: z.boolean().nullish(),
  /** Deprecated Harbor spelling of replicate_deletion. */
  deletion: z.boolean().nullish(),
  override: z.boolean().default(true),
  speed: z.number().int().min(-1).nullish(),
  concurrency: z.number().int().min(0).max(64).nullish(),
  enabled: z.boolean().default(true),
  copy_by_chunk: z.boolean().nullish(),
  single_active_replication: z.boolean().nullish(),
});

const policyFields: QueryFields<PolicyRecord> = {
  name: { type: 'string', get: (p) => p.name },
  enabled: { type: 'boolean', get: (p) => p.enabled },
};

export function policyRoutes(router: Router, d: ReplicationApiDeps): void {
  const { policies } = d.records;

  router.get('/replication/policies', async (ctx) => {
    const terms = parseQuery(queryString(ctx, 'q'));
    // handler/replication.go: the deprecated `name` is a fuzzy match.
    const name = queryString(ctx, 'name');
    if (name) terms.push({ key: 'name', kind: 'fuzzy', value: name });
    checkTerms(terms, policyFields);
    const items = (await d.records.allPolicies()).filter((p) => matches(p, terms, policyFields));
    const registries = await registriesById(d);
    ctx.body = pageOf(ctx, items).map((p) => policyOut(p, registries, d));
  });

  router.post('/replication/policies', async (ctx) => {
    const now = nowIso();
    const record = await policies.insert({ ...(await policyFrom(d, await readBody(ctx, policyIn))), creation_time: now, update_time: now });
    d.engine?.wake();
    created(ctx, `/api/v2.0/replication/policies/${record.id}`);
  });

  router.get('/replication/policies/:id', async (ctx) => {
    const p = await policyById(d, ctx);
    ctx.body = policyOut(p, await registriesById(d), d);
  });

  router.put('/replication/policies/:id', async (ctx) => {
    const p = await policyById(d, ctx);
    const body = await readBody(ctx, policyIn);
    await policies.update({ ...p, ...(await policyFrom(d, body)), id: p.id, creation_time: p.creation_time, update_time: nowIso() });
    d.engine?.wake();
    ok(ctx);
  });

  router.delete('/replication/policies/:id', async (ctx) => {
    const p = await policyById(d, ctx);
    const running = (await d.records.executions.list({ where: { policy_id: p.id, status: 'InProgress' } })).items;
    if (running.some((e) => e.trigger !== 'event_based' && e.trigger !== 'reconcile')) {
      throw precondition(`policy ${p.name} has running executions; stop them first`);
    }
    await policies.delete(p.id);
    const cursor = await d.records.cursor(p.id);
    if (cursor) await d.records.cursors.delete(cursor.id);
    d.engine?.wake();
    ok(ctx);
  });
}

async function policyFrom(d: ReplicationApiDeps, body: z.infer<typeof policyIn>): Promise<Omit<PolicyRecord, 'id' | 'creation_time' | 'update_time'>> {
  const src = body.src_registry?.id ? body.src_registry.id : null;
  const dest = body.dest_registry?.id ? body.dest_registry.id : null;
  if ((src === null) === (dest === null)) throw badRequest('a policy names either a source registry (pull) or a destination registry (push), not both or neither');
  const remote = await d.records.registries.get((src ?? dest)!);
  if (!remote) throw badRequest(`registry ${src ?? dest} not found`);
  const trigger = { type: body.trigger?.type ?? 'manual', trigger_settings: { cron: body.trigger?.trigger_settings?.cron ?? '' } };
  if (trigger.type === 'event_based' && src !== null) throw badRequest('event_based triggers need a push policy (the source is this registry)');
  if (trigger.type === 'scheduled') await checkCron(trigger.trigger_settings.cron);
  const filters = (body.filters ?? []).map((f) => ({ type: f.type, value: f.value, decoration: f.decoration }));
  const filterError = checkFilters(filters);
  if (filterError) throw badRequest(filterError);
  if (src !== null && filters.some((f) => f.type === 'label') && remote.type !== 'berth' && remote.type !== 'harbor') {
    throw badRequest(`label filters need a source that keeps labels (Berth or Harbor), not ${remote.type}`);
  }
  if (body.dest_namespace) {
    try {
      parseRepositoryName(destinationRepository('a', body.dest_namespace, 0));
    } catch {
      throw badRequest(`invalid dest_namespace ${JSON.stringify(body.dest_namespace)}`);
    }
  }
  return {
    name: body.name,
    description: body.description,
    src_registry_id: src,
    dest_registry_id: dest,
    dest_namespace: body.dest_namespace,
    dest_namespace_replace_count: body.dest_namespace_replace_count ?? -1,
    filters,
    trigger,
    replicate_deletion: body.replicate_deletion ?? body.deletion ?? false,
    override: body.override,
    speed: body.speed ?? -1,
    concurrency: body.concurrency ?? 0,
    enabled: body.enabled,
    copy_by_chunk: body.copy_by_chunk ?? false,
    single_active_replication: body.single_active_replication ?? false,
  };
}

async function checkCron(cron: string): Promise<void> {
  if (!cron) throw badRequest('a scheduled trigger needs trigger_settings.cron');
  try {
    const { Cron } = await import('croner');
    new Cron(cron, { paused: true }).stop();
  } catch (e) {
    throw badRequest(`invalid cron ${JSON.stringify(cron)}: ${(e as Error).message}`);
  }
}

async function registriesById(d: ReplicationApiDeps): Promise<Map<number, RegistryRecord>> {
  return new Map((await d.records.registries.list()).items.map((r) => [r.id, r]));
}

function policyOut(p: PolicyRecord, registries: Map<number, RegistryRecord>, d: ReplicationApiDeps) {
  const local = { id: 0, name: 'Local', type: 'berth', url: d.localUrl, idc: d.idc, status: 'healthy' };
  const remote = (id: number | null) => {
    const r = id !== null ? registries.get(id) : undefined;
    return r ? registryOut(r, d) : { id, name: '(deleted)' };
  };
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    src_registry: p.src_registry_id !== null ? remote(p.src_registry_id) : local,
    dest_registry: p.dest_registry_id !== null ? remote(p.dest_registry_id) : local,
    dest_namespace: p.dest_namespace,
    dest_namespace_replace_count: p.dest_namespace_replace_count,
    filters: p.filters,
    trigger: p.trigger,
    replicate_deletion: p.replicate_deletion,
    deletion: p.replicate_deletion,
    override: p.override,
    enabled: p.enabled,
    speed: p.speed,
    concurrency: p.concurrency,
    // as the client set it: terraform-provider-harbor compares it with its configuration (default false)
    copy_by_chunk: p.copy_by_chunk ?? false,
    single_active_replication: p.single_active_replication ?? false,
    creation_time: p.creation_time,
    update_time: p.update_time,
  };
}

async function policyById(d: ReplicationApiDeps, ctx: Context): Promise<PolicyRecord> {
  const p = await d.records.policies.get(idParam(ctx, 'id'));
  if (!p) throw notFound(`policy ${ctx.params.id} not found`);
  return p;
}
