import type Router from '@koa/router';
import type { Context } from 'koa';
import { checkCron } from '../../../registry/scheduled-job.js';
import { z } from 'zod';
import { readBody } from '../../../core/harbor-api/body.js';
import { badRequest, conflict, notFound } from '../../../core/harbor-api/errors.js';
import { pageOf } from '../../../core/harbor-api/paging.js';
import { idParam } from '../../../core/harbor-api/params.js';
import { created, ok } from '../../../core/harbor-api/responses.js';
import type { ProjectRecord } from '../../auth/records.js';
import { auditChange, projectParam, requireProject } from '../context.js';
import type { PreheatApiDeps } from './instances.js';
import { nowIso, policyKey, type PolicyFilter, type PolicyTrigger, type PreheatExecutionRecord, type PreheatPolicyRecord } from './records.js';
import { checkFilters, type PreheatRunner } from './runner.js';

// Harbor's /projects/{project_name}/preheat/policies: CRUD, a manual run (POST on the policy), executions, their
// tasks and each task's log, and stopping an execution (PATCH {"status": "Stopped"}). Reading needs the project;
// changing and running need project admin. Harbor sends filters and trigger as JSON inside strings.

const jsonString = <S extends z.ZodType>(schema: S) =>
  z.union([z.string(), schema]).transform((v, ctx) => {
    if (typeof v !== 'string') return v as z.infer<S>;
    try {
      const parsed = schema.safeParse(JSON.parse(v));
      if (parsed.success) return parsed.data as z.infer<S>;
      ctx.addIssue({ code: 'custom', message: parsed.error.issues.map((i) => i.message).join('; ') });
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not JSON' });
    }
    return z.NEVER;
  });
const filters = z.array(z.object({ type: z.enum(['repository', 'tag', 'label', 'vulnerability', 'signature']), value: z.unknown() }));
const trigger = z.object({ type: z.enum(['manual', 'scheduled', 'event_based']), trigger_setting: z.object({ cron: z.string().optional() }).passthrough().optional() });
const policyIn = z.object({
  name: z.string().min(1).max(255),
  description: z.string().default(''),
  provider_id: z.number().int().optional(),
  filters: jsonString(filters).default([]),
  trigger: jsonString(trigger).default({ type: 'manual' }),
  enabled: z.boolean().default(true),
  scope: z.string().default('single_peer'),
});

export interface PolicyApiDeps extends PreheatApiDeps {
  runner: PreheatRunner;
}

function policyOut(p: PreheatPolicyRecord, providerName: string) {
  const { key: _key, ...rest } = p;
  return { ...rest, provider_name: providerName, filters: JSON.stringify(p.filters), trigger: JSON.stringify(p.trigger), extra_attrs: '' };
}

function executionOut(e: PreheatExecutionRecord, tasks: { status: string }[]) {
  const count = (s: string) => tasks.filter((t) => t.status === s).length;
  return {
    id: e.id,
    vendor_type: 'P2P_PREHEAT',
    vendor_id: e.policy_id,
    status: e.status,
    status_message: e.status_message,
    trigger: e.trigger,
    start_time: e.start_time,
    end_time: e.end_time ?? '',
    metrics: { task_count: tasks.length, success_task_count: count('Success'), error_task_count: count('Error'), running_task_count: count('Running'), pending_task_count: count('Pending'), stopped_task_count: count('Stopped') },
    extra_attrs: {},
  };
}

function checkPolicy(f: PolicyFilter[], t: PolicyTrigger): void {
  const problem = checkFilters(f);
  if (problem) throw badRequest(`invalid request body: ${problem}`);
  if (t.type === 'scheduled') {
    const cron = t.trigger_setting?.cron;
    if (!cron) throw badRequest('invalid request body: a scheduled trigger needs trigger_setting.cron');
    try {
      checkCron(cron);
    } catch (e) {
      throw badRequest(`invalid request body: cron ${cron.slice(0, 64)}: ${(e as Error).message}`);
    }
  }
}

export function policyRoutes(router: Router, d: PolicyApiDeps): void {
  const { admin: a, records, runner } = d;
  const base = '/projects/:project_name/preheat/policies';
  const project = (ctx: Context) => projectParam(ctx, a, 'project_name', false);
  const policyOf = async (ctx: Context, p: ProjectRecord) => {
    const found = await records.policies.findOne('key', policyKey(p.id, ctx.params.preheat_policy_name ?? ''));
    if (!found) throw notFound(`preheat policy ${String(ctx.params.preheat_policy_name).slice(0, 255)} not found in project ${p.name}`);
    return found;
  };
  const executionOf = async (ctx: Context, policy: PreheatPolicyRecord) => {
    const e = await records.executions.get(idParam(ctx, 'execution_id'));
    if (!e || e.policy_id !== policy.id) throw notFound('execution not found');
    return e;
  };
  const providerName = async (id: number) => (await records.instances.get(id))?.name ?? '';
  const provider = async (ctx: Context, id: number | undefined) => {
    const found = id ? await records.instances.get(id) : await records.builtIn(d.endpoint(ctx));
    if (!found) throw badRequest(`preheat instance ${id} not found`);
    if (!found.enabled) throw badRequest(`preheat instance ${found.name} is disabled`);
    return found;
  };

  router.get(base, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.read');
    const items = (await records.policies.list({ where: { project_id: p.id }, limit: 1000 })).items;
    ctx.body = await Promise.all(pageOf(ctx, items).map(async (x) => policyOut(x, await providerName(x.provider_id))));
  });
  router.post(base, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.update');
    const body = await readBody(ctx, policyIn);
    checkPolicy(body.filters, body.trigger);
    const instance = await provider(ctx, body.provider_id);
    const t = nowIso();
    if (await records.policies.findOne('key', policyKey(p.id, body.name))) throw conflict(`preheat policy ${body.name} already exists in project ${p.name}`);
    const r = await records.policies.insert({ key: policyKey(p.id, body.name), name: body.name, description: body.description, project_id: p.id, provider_id: instance.id, filters: body.filters, trigger: body.trigger, enabled: body.enabled, scope: body.scope, creation_time: t, update_time: t });
    await auditChange(ctx, a, { operation: 'create', resource_type: 'preheat_policy', resource: r.name, project_id: p.id });
    created(ctx, `/api/v2.0/projects/${p.name}/preheat/policies/${encodeURIComponent(r.name)}`);
  });
  router.get(`${base}/:preheat_policy_name`, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.read');
    const x = await policyOf(ctx, p);
    ctx.body = policyOut(x, await providerName(x.provider_id));
  });
  router.put(`${base}/:preheat_policy_name`, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.update');
    const current = await policyOf(ctx, p);
    const body = await readBody(ctx, policyIn);
    checkPolicy(body.filters, body.trigger);
    const instance = await provider(ctx, body.provider_id ?? current.provider_id);
    if (body.name !== current.name && (await records.policies.findOne('key', policyKey(p.id, body.name)))) throw conflict(`preheat policy ${body.name} already exists in project ${p.name}`);
    await records.policies.update({ ...current, key: policyKey(p.id, body.name), name: body.name, description: body.description, provider_id: instance.id, filters: body.filters, trigger: body.trigger, enabled: body.enabled, scope: body.scope, update_time: nowIso() });
    await auditChange(ctx, a, { operation: 'update', resource_type: 'preheat_policy', resource: body.name, project_id: p.id });
    ok(ctx);
  });
  router.delete(`${base}/:preheat_policy_name`, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.update');
    const current = await policyOf(ctx, p);
    await records.policies.delete(current.id);
    await auditChange(ctx, a, { operation: 'delete', resource_type: 'preheat_policy', resource: current.name, project_id: p.id });
    ok(ctx);
  });
  // A manual run.
  router.post(`${base}/:preheat_policy_name`, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.update');
    const policy = await policyOf(ctx, p);
    if (!policy.enabled) throw badRequest(`preheat policy ${policy.name} is disabled`);
    const id = await runner.execute(policy, p.name, 'MANUAL');
    await auditChange(ctx, a, { operation: 'create', resource_type: 'preheat_execution', resource: policy.name, project_id: p.id });
    created(ctx, `/api/v2.0/projects/${p.name}/preheat/policies/${encodeURIComponent(policy.name)}/executions/${id}`);
  });
  router.get(`${base}/:preheat_policy_name/executions`, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.read');
    const policy = await policyOf(ctx, p);
    const items = (await records.executions.list({ where: { policy_id: policy.id }, order: 'desc', limit: 1000 })).items;
    ctx.body = await Promise.all(pageOf(ctx, items).map(async (e) => {
      const r = await runner.refresh(e);
      return executionOut(r.execution, r.tasks);
    }));
  });
  router.get(`${base}/:preheat_policy_name/executions/:execution_id`, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.read');
    const r = await runner.refresh(await executionOf(ctx, await policyOf(ctx, p)));
    ctx.body = executionOut(r.execution, r.tasks);
  });
  router.patch(`${base}/:preheat_policy_name/executions/:execution_id`, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.update');
    const e = await executionOf(ctx, await policyOf(ctx, p));
    const body = await readBody(ctx, z.object({ status: z.string() }).passthrough());
    if (body.status !== 'Stopped') throw badRequest('invalid request body: status: only "Stopped" can be set');
    if (e.status === 'Running') await records.executions.update({ ...e, stop_requested: true });
    await runner.refresh({ ...e, stop_requested: true });
    ok(ctx);
  });
  router.get(`${base}/:preheat_policy_name/executions/:execution_id/tasks`, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.read');
    const r = await runner.refresh(await executionOf(ctx, await policyOf(ctx, p)));
    ctx.body = pageOf(ctx, r.tasks).map((t) => ({
      id: t.id,
      execution_id: t.execution_id,
      status: t.status,
      status_message: t.status_message,
      run_count: 1,
      extra_attrs: { artifact: t.artifact, digest: t.digest, kind: 'image', blobs: t.blobs },
      creation_time: t.creation_time,
      start_time: t.creation_time,
      update_time: t.end_time ?? t.creation_time,
      end_time: t.end_time ?? '',
    }));
  });
  router.get(`${base}/:preheat_policy_name/executions/:execution_id/tasks/:task_id/logs`, async (ctx) => {
    const p = await project(ctx);
    await requireProject(ctx, a, p, 'project.read');
    const e = await executionOf(ctx, await policyOf(ctx, p));
    const task = await records.tasks.get(idParam(ctx, 'task_id'));
    if (!task || task.execution_id !== e.id) throw notFound('task not found');
    ctx.type = 'text/plain';
    ctx.body = await runner.log(task);
  });
}

