import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { parseRepositoryName } from '../core/names.js';
import { ConflictError, type MetaStore } from '../storage-adapters/meta/meta-store.js';
import { tagConflicts } from '../registry/tag-conflicts.js';
import type { CredentialCipher } from './credentials.js';
import { CREDENTIAL_CONTEXT, RemoteRegistry } from './endpoint.js';
import type { Replicator } from './engine.js';
import { checkFilters, destinationRepository } from './filters.js';
import {
  countTasks,
  nowIso,
  type ExecutionRecord,
  type PolicyRecord,
  type RegistryRecord,
  type ReplicationRecords,
  type TaskRecord,
} from './records.js';
import { toWire } from './tags.js';

// The replication configuration API in Harbor's shapes (api/v2.0: /registries, /replication/policies,
// /replication/executions), system admins only, plus Berth's own /berth/replication/* (the IDC, tag records
// with versions for anti-entropy, and the conflicts last-writer-wins resolved).

export interface ReplicationApiDeps {
  records: ReplicationRecords;
  meta: MetaStore;
  cipher: CredentialCipher;
  idc: string;
  /** This registry's URL, shown as the local side of a policy. */
  localUrl: string;
  /** The engine when it runs in this process (it is told about changes at once); else the active one polls. */
  engine?: Replicator;
  /** Throws (401/403) unless the caller is a system admin. Absent: everyone may (auth none). */
  requireSysadmin?: (ctx: Context) => Promise<void>;
}

class ReplicationApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const codes: Record<number, string> = { 400: 'BAD_REQUEST', 404: 'NOT_FOUND', 409: 'CONFLICT', 412: 'PRECONDITION', 413: 'REQUEST_ENTITY_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };
const bad = (m: string) => new ReplicationApiError(400, m);
const notFound = (m: string) => new ReplicationApiError(404, m);

const registryType = z.enum(['berth', 'docker-registry', 'harbor']);
const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL');
const credentialIn = z.object({
  type: z.literal('basic').default('basic'),
  access_key: z.string().default(''),
  access_secret: z.string().default(''),
});
const registryIn = z.object({
  name: z.string().min(1).max(255),
  url: httpUrl,
  type: registryType,
  description: z.string().default(''),
  credential: credentialIn.nullish(),
  insecure: z.boolean().default(false),
});
/** Harbor's RegistryUpdate (flat credential fields); a nested `credential` is taken too. */
const registryUpdate = z.object({
  name: z.string().min(1).max(255).nullish(),
  url: httpUrl.nullish(),
  description: z.string().nullish(),
  credential_type: z.string().nullish(),
  access_key: z.string().nullish(),
  access_secret: z.string().nullish(),
  credential: credentialIn.nullish(),
  insecure: z.boolean().nullish(),
});
const registryPing = z.object({
  id: z.number().int().nullish(),
  type: registryType.nullish(),
  url: httpUrl.nullish(),
  credential_type: z.string().nullish(),
  access_key: z.string().nullish(),
  access_secret: z.string().nullish(),
  credential: credentialIn.nullish(),
  insecure: z.boolean().nullish(),
});
const registryRef = z.object({ id: z.number().int().min(0) }).passthrough().nullish();
const filterIn = z.object({
  type: z.enum(['name', 'tag']),
  value: z.union([z.string(), z.number()]).transform(String),
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
});

export function replicationRouter(d: ReplicationApiDeps): Router {
  const router = new Router({ prefix: '/api/v2.0' });
  router.use(async (ctx: Context, next: Next) => {
    try {
      await d.requireSysadmin?.(ctx);
      await next();
    } catch (e) {
      let err: ReplicationApiError | undefined;
      if (e instanceof ReplicationApiError) err = e;
      else if (e instanceof z.ZodError) err = bad(e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      else if (e instanceof ConflictError) err = new ReplicationApiError(409, `${e.field} already exists`);
      if (!err) throw e;
      ctx.status = err.status;
      ctx.type = 'application/json';
      ctx.body = { errors: [{ code: codes[err.status] ?? 'UNKNOWN', message: err.message }] };
    }
  });
  registryRoutes(router, d);
  policyRoutes(router, d);
  executionRoutes(router, d);
  berthRoutes(router, d);
  return router;
}

// --- registries ---

function registryRoutes(router: Router, d: ReplicationApiDeps): void {
  const { registries } = d.records;

  router.get('/replication/adapters', (ctx) => {
    ctx.body = registryType.options;
  });

  router.get('/registries', async (ctx) => {
    const name = queryString(ctx, 'name');
    const q = queryString(ctx, 'q');
    let items = (await registries.list()).items;
    if (name) items = items.filter((r) => r.name === name);
    if (q) items = items.filter((r) => r.name.includes(q.replace(/^name=~?/, '')));
    page(ctx, items.map((r) => registryOut(r, d)));
  });

  router.post('/registries', async (ctx) => {
    const body = registryIn.parse(await readJson(ctx));
    const now = nowIso();
    const record = await registries.insert({
      name: body.name,
      url: body.url.replace(/\/+$/, ''),
      type: body.type,
      description: body.description,
      credential: sealCredential(d, body.credential),
      insecure: body.insecure,
      idc: null,
      creation_time: now,
      update_time: now,
    });
    await learnIdc(d, record);
    created(ctx, `/api/v2.0/registries/${record.id}`);
  });

  router.post('/registries/ping', async (ctx) => {
    const body = registryPing.parse(await readJson(ctx));
    let remote: RemoteRegistry;
    if (body.id != null) {
      const record = await registries.get(body.id);
      if (!record) throw notFound(`registry ${body.id} not found`);
      const merged = { ...record, ...(body.url && { url: body.url }), ...(body.type && { type: body.type }), ...(body.insecure != null && { insecure: body.insecure }) };
      const secret = body.access_secret ?? body.credential?.access_secret;
      if (secret !== undefined && secret !== null) merged.credential = sealCredential(d, { type: 'basic', access_key: body.access_key ?? body.credential?.access_key ?? '', access_secret: secret });
      remote = RemoteRegistry.fromRecord(merged, d.cipher, 10_000);
    } else {
      if (!body.url || !body.type) throw bad('url and type are required without an id');
      const key = body.access_key ?? body.credential?.access_key;
      const secret = body.access_secret ?? body.credential?.access_secret;
      remote = new RemoteRegistry({ url: body.url, type: body.type, insecure: body.insecure ?? false, ...(key ? { username: key, password: secret ?? '' } : {}) }, 0, null, 10_000);
    }
    try {
      await remote.client.ping();
    } catch (e) {
      throw bad(`failed to ping the registry: ${(e as Error).message}`);
    }
    ctx.status = 200;
    ctx.body = '';
  });

  router.get('/registries/:id', async (ctx) => {
    ctx.body = registryOut(await registryById(d, ctx), d);
  });

  router.get('/registries/:id/info', async (ctx) => {
    const r = await registryById(d, ctx);
    ctx.body = {
      type: r.type,
      description: r.description,
      supported_resource_filters: [
        { type: 'name', style: 'input' },
        { type: 'tag', style: 'input', values: ['matches', 'excludes'] },
      ],
      supported_triggers: ['manual', 'scheduled', 'event_based'],
    };
  });

  router.put('/registries/:id', async (ctx) => {
    const r = await registryById(d, ctx);
    const body = registryUpdate.parse(await readJson(ctx));
    const next: RegistryRecord = { ...r, update_time: nowIso() };
    if (body.name) next.name = body.name;
    if (body.url) {
      next.url = body.url.replace(/\/+$/, '');
      next.idc = null;
    }
    if (body.description != null) next.description = body.description;
    if (body.insecure != null) next.insecure = body.insecure;
    const key = body.access_key ?? body.credential?.access_key;
    const secret = body.access_secret ?? body.credential?.access_secret;
    if (key != null || secret != null) {
      const oldSecret = r.credential ? d.cipher.decrypt(r.credential.access_secret_enc, CREDENTIAL_CONTEXT) : '';
      next.credential = sealCredential(d, { type: 'basic', access_key: key ?? r.credential?.access_key ?? '', access_secret: secret ?? oldSecret });
    }
    await registries.update(next);
    await learnIdc(d, next);
    d.engine?.wake();
    ctx.status = 200;
    ctx.body = '';
  });

  router.delete('/registries/:id', async (ctx) => {
    const r = await registryById(d, ctx);
    const users = (await d.records.allPolicies()).filter((p) => p.src_registry_id === r.id || p.dest_registry_id === r.id);
    if (users.length > 0) throw new ReplicationApiError(412, `registry ${r.name} is used by policies ${users.map((p) => p.name).join(', ')}`);
    await registries.delete(r.id);
    ctx.status = 200;
    ctx.body = '';
  });
}

function sealCredential(d: ReplicationApiDeps, c: z.infer<typeof credentialIn> | null | undefined): RegistryRecord['credential'] {
  if (!c || (!c.access_key && !c.access_secret)) return null;
  return { type: 'basic', access_key: c.access_key, access_secret_enc: d.cipher.encrypt(c.access_secret, CREDENTIAL_CONTEXT) };
}

/** A Berth peer tells its IDC (so events are never sent back where they came from); best effort here, the
 *  engine asks again when it did not answer. */
async function learnIdc(d: ReplicationApiDeps, r: RegistryRecord): Promise<void> {
  if (r.type !== 'berth') return;
  const info = await RemoteRegistry.fromRecord(r, d.cipher, 5000)
    .info()
    .catch(() => undefined);
  if (!info?.idc) return;
  const fresh = await d.records.registries.get(r.id);
  if (fresh) await d.records.registries.update({ ...fresh, idc: info.idc });
}

function registryOut(r: RegistryRecord, d: ReplicationApiDeps) {
  return {
    id: r.id,
    name: r.name,
    url: r.url,
    type: r.type,
    description: r.description,
    credential: r.credential ? { type: r.credential.type, access_key: r.credential.access_key, access_secret: '*****' } : { type: 'basic', access_key: '', access_secret: '' },
    insecure: r.insecure,
    status: d.engine?.registryStatus(r.id) ?? 'unknown',
    idc: r.idc,
    creation_time: r.creation_time,
    update_time: r.update_time,
  };
}

async function registryById(d: ReplicationApiDeps, ctx: Context): Promise<RegistryRecord> {
  const r = await d.records.registries.get(idParam(ctx, 'id'));
  if (!r) throw notFound(`registry ${ctx.params.id} not found`);
  return r;
}

// --- policies ---

function policyRoutes(router: Router, d: ReplicationApiDeps): void {
  const { policies } = d.records;

  router.get('/replication/policies', async (ctx) => {
    const name = queryString(ctx, 'name');
    let items = await d.records.allPolicies();
    if (name) items = items.filter((p) => p.name.includes(name));
    const registries = new Map((await d.records.registries.list()).items.map((r) => [r.id, r]));
    page(ctx, items.map((p) => policyOut(p, registries, d)));
  });

  router.post('/replication/policies', async (ctx) => {
    const now = nowIso();
    const record = await policies.insert({ ...(await policyFrom(d, await readJson(ctx))), creation_time: now, update_time: now });
    d.engine?.wake();
    created(ctx, `/api/v2.0/replication/policies/${record.id}`);
  });

  router.get('/replication/policies/:id', async (ctx) => {
    const p = await policyById(d, ctx);
    const registries = new Map((await d.records.registries.list()).items.map((r) => [r.id, r]));
    ctx.body = policyOut(p, registries, d);
  });

  router.put('/replication/policies/:id', async (ctx) => {
    const p = await policyById(d, ctx);
    await policies.update({ ...p, ...(await policyFrom(d, await readJson(ctx))), id: p.id, creation_time: p.creation_time, update_time: nowIso() });
    d.engine?.wake();
    ctx.status = 200;
    ctx.body = '';
  });

  router.delete('/replication/policies/:id', async (ctx) => {
    const p = await policyById(d, ctx);
    const running = (await d.records.executions.list({ where: { policy_id: p.id, status: 'InProgress' } })).items;
    if (running.some((e) => e.trigger !== 'event_based' && e.trigger !== 'reconcile')) {
      throw new ReplicationApiError(412, `policy ${p.name} has running executions; stop them first`);
    }
    await policies.delete(p.id);
    const cursor = await d.records.cursor(p.id);
    if (cursor) await d.records.cursors.delete(cursor.id);
    d.engine?.wake();
    ctx.status = 200;
    ctx.body = '';
  });
}

async function policyFrom(d: ReplicationApiDeps, raw: unknown): Promise<Omit<PolicyRecord, 'id' | 'creation_time' | 'update_time'>> {
  const body = policyIn.parse(raw);
  const src = body.src_registry?.id ? body.src_registry.id : null;
  const dest = body.dest_registry?.id ? body.dest_registry.id : null;
  if ((src === null) === (dest === null)) throw bad('a policy names either a source registry (pull) or a destination registry (push), not both or neither');
  const remote = await d.records.registries.get((src ?? dest)!);
  if (!remote) throw bad(`registry ${src ?? dest} not found`);
  const trigger = { type: body.trigger?.type ?? 'manual', trigger_settings: { cron: body.trigger?.trigger_settings?.cron ?? '' } };
  if (trigger.type === 'event_based' && src !== null) throw bad('event_based triggers need a push policy (the source is this registry)');
  if (trigger.type === 'scheduled') {
    if (!trigger.trigger_settings.cron) throw bad('a scheduled trigger needs trigger_settings.cron');
    try {
      const { Cron } = await import('croner');
      new Cron(trigger.trigger_settings.cron, { paused: true }).stop();
    } catch (e) {
      throw bad(`invalid cron ${JSON.stringify(trigger.trigger_settings.cron)}: ${(e as Error).message}`);
    }
  }
  const filters = (body.filters ?? []).map((f) => ({ type: f.type, value: f.value, decoration: f.decoration }));
  const filterError = checkFilters(filters);
  if (filterError) throw bad(filterError);
  const replaceCount = body.dest_namespace_replace_count ?? -1;
  if (body.dest_namespace) {
    try {
      parseRepositoryName(destinationRepository('a', body.dest_namespace, 0));
    } catch {
      throw bad(`invalid dest_namespace ${JSON.stringify(body.dest_namespace)}`);
    }
  }
  return {
    name: body.name,
    description: body.description,
    src_registry_id: src,
    dest_registry_id: dest,
    dest_namespace: body.dest_namespace,
    dest_namespace_replace_count: replaceCount,
    filters,
    trigger,
    replicate_deletion: body.replicate_deletion ?? body.deletion ?? false,
    override: body.override,
    speed: body.speed ?? -1,
    concurrency: body.concurrency ?? 0,
    enabled: body.enabled,
  };
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
    copy_by_chunk: true,
    creation_time: p.creation_time,
    update_time: p.update_time,
  };
}

async function policyById(d: ReplicationApiDeps, ctx: Context): Promise<PolicyRecord> {
  const p = await d.records.policies.get(idParam(ctx, 'id'));
  if (!p) throw notFound(`policy ${ctx.params.id} not found`);
  return p;
}

// --- executions and tasks ---

function executionRoutes(router: Router, d: ReplicationApiDeps): void {
  const { executions } = d.records;

  router.get('/replication/executions', async (ctx) => {
    const where: Partial<Record<keyof ExecutionRecord, string | number>> = {};
    const policyId = queryString(ctx, 'policy_id');
    if (policyId) where.policy_id = Number(policyId);
    const status = queryString(ctx, 'status');
    if (status) where.status = status;
    const trigger = queryString(ctx, 'trigger');
    if (trigger) where.trigger = trigger;
    const { pageNo, size } = paging(ctx);
    const { items, total } = await executions.list({ where, order: 'desc', offset: (pageNo - 1) * size, limit: size });
    ctx.set('X-Total-Count', String(total));
    setLink(ctx, pageNo, size, total);
    ctx.body = await Promise.all(items.map((e) => executionOut(d, e)));
  });

  router.post('/replication/executions', async (ctx) => {
    const body = z.object({ policy_id: z.number().int().min(1) }).parse(await readJson(ctx));
    const policy = await d.records.policies.get(body.policy_id);
    if (!policy) throw notFound(`policy ${body.policy_id} not found`);
    if (!policy.enabled) throw new ReplicationApiError(412, `policy ${policy.name} is disabled`);
    const now = nowIso();
    const record = await executions.insert({
      policy_id: policy.id,
      status: 'InProgress',
      status_text: '',
      trigger: 'manual',
      planned: false,
      open: false,
      stop_requested: false,
      start_time: now,
      end_time: null,
      total: 0,
      succeed: 0,
      failed: 0,
      in_progress: 0,
      stopped: 0,
    });
    d.engine?.wake();
    created(ctx, `/api/v2.0/replication/executions/${record.id}`);
  });

  router.get('/replication/executions/:id', async (ctx) => {
    ctx.body = await executionOut(d, await executionById(d, ctx));
  });

  // Harbor: PUT stops the execution. In-flight transfers are aborted (the engine re-reads the flag within a
  // second wherever it runs; at once when it runs here).
  router.put('/replication/executions/:id', async (ctx) => {
    const e = await executionById(d, ctx);
    if (e.status === 'InProgress' && !e.stop_requested) await executions.update({ ...e, stop_requested: true });
    d.engine?.wake();
    ctx.status = 200;
    ctx.body = '';
  });

  router.get('/replication/executions/:id/tasks', async (ctx) => {
    const e = await executionById(d, ctx);
    let tasks = await d.records.allTasks(e.id);
    const status = queryString(ctx, 'status');
    if (status) tasks = tasks.filter((t) => t.status === status);
    const resourceType = queryString(ctx, 'resource_type');
    if (resourceType) tasks = tasks.filter((t) => t.resource_type === resourceType);
    page(ctx, tasks.map(taskOut));
  });

  router.get('/replication/executions/:id/tasks/:task_id', async (ctx) => {
    const e = await executionById(d, ctx);
    const t = await d.records.tasks(e.id).get(idParam(ctx, 'task_id'));
    if (!t) throw notFound(`task ${ctx.params.task_id} not found`);
    ctx.body = taskOut(t);
  });

  router.get('/replication/executions/:id/tasks/:task_id/log', async (ctx) => {
    const e = await executionById(d, ctx);
    const t = await d.records.tasks(e.id).get(idParam(ctx, 'task_id'));
    if (!t) throw notFound(`task ${ctx.params.task_id} not found`);
    ctx.type = 'text/plain';
    ctx.body = [
      `${t.operation} ${resourceOf(t.src_repository, t)} -> ${resourceOf(t.dst_repository, t)}`,
      `status: ${t.status}, attempts: ${t.attempts}, bytes: ${t.bytes}`,
      ...(t.note ? [`note: ${t.note}`] : []),
      ...(t.error ? [`last error: ${t.error}`] : []),
      '',
    ].join('\n');
  });
}

async function executionOut(d: ReplicationApiDeps, e: ExecutionRecord) {
  const counts = e.status === 'InProgress' ? countTasks(await d.records.allTasks(e.id)) : e;
  return {
    id: e.id,
    policy_id: e.policy_id,
    status: e.status,
    status_text: e.status_text,
    trigger: e.trigger,
    start_time: e.start_time,
    end_time: e.end_time,
    total: counts.total,
    succeed: counts.succeed,
    failed: counts.failed,
    in_progress: counts.in_progress,
    stopped: counts.stopped,
  };
}

function taskOut(t: TaskRecord) {
  return {
    id: t.id,
    execution_id: t.execution_id,
    status: t.status,
    job_id: `${t.execution_id}-${t.id}`,
    operation: t.operation,
    resource_type: t.resource_type,
    src_resource: resourceOf(t.src_repository, t),
    dst_resource: resourceOf(t.dst_repository, t),
    start_time: t.start_time,
    end_time: t.end_time,
    bytes: t.bytes,
    attempts: t.attempts,
    error: t.error,
    note: t.note,
    tag: t.tag,
    digest: t.digest,
    version: t.version,
  };
}

function resourceOf(repository: string, t: TaskRecord): string {
  return t.tag !== null ? `${repository}:${t.tag}` : `${repository}@${t.digest}`;
}

async function executionById(d: ReplicationApiDeps, ctx: Context): Promise<ExecutionRecord> {
  const e = await d.records.executions.get(idParam(ctx, 'id'));
  if (!e) throw notFound(`execution ${ctx.params.id} not found`);
  return e;
}

// --- Berth peers: IDC, tag records with versions, conflicts ---

function berthRoutes(router: Router, d: ReplicationApiDeps): void {
  router.get('/berth/replication/info', (ctx) => {
    ctx.body = { idc: d.idc };
  });

  router.get('/berth/replication/tags', async (ctx) => {
    const repository = queryString(ctx, 'repository');
    if (!repository) throw bad('repository is required');
    const records = await d.meta.listTagRecords(repository);
    ctx.body = { repository, tags: records.map(toWire) };
  });

  router.get('/berth/replication/conflicts', async (ctx) => {
    const repository = queryString(ctx, 'repository');
    const { pageNo, size } = paging(ctx);
    const { items, total } = await tagConflicts(d.meta).list({
      ...(repository && { where: { repository } }),
      order: 'desc',
      offset: (pageNo - 1) * size,
      limit: size,
    });
    ctx.set('X-Total-Count', String(total));
    setLink(ctx, pageNo, size, total);
    ctx.body = items;
  });
}

// --- HTTP details ---

async function readJson(ctx: Context): Promise<unknown> {
  // A body parser mounted by someone else may have read it already.
  const parsed = (ctx.request as { body?: unknown }).body;
  if (parsed !== undefined) return parsed;
  const type = ctx.get('Content-Type');
  if (type && !/json/i.test(type)) throw new ReplicationApiError(415, 'expected application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.req) {
    size += (c as Buffer).length;
    if (size > 1024 * 1024) throw new ReplicationApiError(413, 'body larger than 1 MiB');
    chunks.push(c as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw bad('body is not valid JSON');
  }
}

function created(ctx: Context, location: string): void {
  ctx.status = 201;
  ctx.set('Location', location);
  ctx.body = '';
}

function idParam(ctx: Context, name: string): number {
  const raw = String(ctx.params[name] ?? '');
  if (!/^\d{1,15}$/.test(raw)) throw bad(`${name} must be a number`);
  return Number(raw);
}

function queryString(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function paging(ctx: Context): { pageNo: number; size: number } {
  const pageNo = Math.max(1, Number(queryString(ctx, 'page') ?? 1) || 1);
  const size = Math.min(100, Math.max(1, Number(queryString(ctx, 'page_size') ?? 10) || 10));
  return { pageNo, size };
}

/** Pages an in-memory list (X-Total-Count and Link as Harbor sends them). */
function page<T>(ctx: Context, items: T[]): void {
  const { pageNo, size } = paging(ctx);
  ctx.set('X-Total-Count', String(items.length));
  setLink(ctx, pageNo, size, items.length);
  ctx.body = items.slice((pageNo - 1) * size, pageNo * size);
}

function setLink(ctx: Context, pageNo: number, size: number, total: number): void {
  const links: string[] = [];
  const url = (p: number) => {
    const q = new URLSearchParams(ctx.querystring);
    q.set('page', String(p));
    q.set('page_size', String(size));
    return `<${ctx.path}?${q.toString()}>`;
  };
  if (pageNo > 1) links.push(`${url(pageNo - 1)}; rel="prev"`);
  if (pageNo * size < total) links.push(`${url(pageNo + 1)}; rel="next"`);
  if (links.length) ctx.set('Link', links.join(' , '));
}
