import type Router from '@koa/router';
import type { Context } from 'koa';
import { checkCron } from '../../../registry/scheduled-job.js';
import { z } from 'zod';
import { readBody, readOptionalBody } from '../../../core/harbor-api/body.js';
import { badRequest, conflict, notFound } from '../../../core/harbor-api/errors.js';
import { pageOf } from '../../../core/harbor-api/paging.js';
import { idParam } from '../../../core/harbor-api/params.js';
import { created, ok } from '../../../core/harbor-api/responses.js';
import { RETENTION_TEMPLATES } from '../../../registry/retention.js';
import { now, type ProjectRecord } from '../../auth/records.js';
import type { ProjectPermission } from '../../auth/roles.js';
import { auditChange, requireProject, requireUser, type AdminDeps } from '../context.js';
import type { RetentionPolicyRecord, RetentionRecords } from './records.js';
import type { RetentionRunner } from './runner.js';

// Harbor's /retentions: metadata (the templates and selectors), a project's policy (create, read, update,
// delete; the project's metadata retention_id names it), executions (run, dry run, list, stop), their tasks
// (one per repository) and each task's log. Reading needs the project; changing and running need project admin.

const selector = z.object({ kind: z.literal('doublestar').default('doublestar'), decoration: z.string(), pattern: z.string(), extras: z.string().optional() });
const rule = z.object({
  id: z.number().int().optional(),
  priority: z.number().int().optional(),
  disabled: z.boolean().default(false),
  action: z.literal('retain').default('retain'),
  template: z.enum(RETENTION_TEMPLATES as [string, ...string[]]),
  params: z.record(z.string(), z.unknown()).default({}),
  tag_selectors: z.array(selector.extend({ decoration: z.enum(['matches', 'excludes']) })).default([]),
  scope_selectors: z.object({ repository: z.array(selector.extend({ decoration: z.enum(['repoMatches', 'repoExcludes']) })).default([]) }).default({ repository: [] }),
});
const policyIn = z.object({
  id: z.number().int().optional(),
  algorithm: z.literal('or').default('or'),
  rules: z.array(rule).max(15, 'only 15 rules are allowed at most'),
  trigger: z.object({ kind: z.literal('Schedule').default('Schedule'), settings: z.object({ cron: z.string().optional() }).passthrough().default({}), references: z.record(z.string(), z.unknown()).optional() }).default({ kind: 'Schedule', settings: {} }),
  scope: z.object({ level: z.literal('project'), ref: z.number().int() }),
});

const metadata = {
  templates: [
    { rule_template: 'latestPushedK', display_text: 'the most recently pushed # artifacts', action: 'retain', params: [{ type: 'int', unit: 'COUNT', required: true }] },
    { rule_template: 'latestPulledN', display_text: 'the most recently pulled # artifacts', action: 'retain', params: [{ type: 'int', unit: 'COUNT', required: true }] },
    { rule_template: 'nDaysSinceLastPush', display_text: 'pushed within the last # days', action: 'retain', params: [{ type: 'int', unit: 'DAYS', required: true }] },
    { rule_template: 'nDaysSinceLastPull', display_text: 'pulled within the last # days', action: 'retain', params: [{ type: 'int', unit: 'DAYS', required: true }] },
    { rule_template: 'always', display_text: 'always', action: 'retain', params: [] },
  ],
  scope_selectors: [{ display_text: 'Repositories', kind: 'doublestar', decorations: ['repoMatches', 'repoExcludes'] }],
  tag_selectors: [{ display_text: 'Tags', kind: 'doublestar', decorations: ['matches', 'excludes'] }],
};

export interface RetentionApiDeps {
  admin: AdminDeps;
  records: RetentionRecords;
  runner: RetentionRunner;
}

function validCron(cron: string | undefined): void {
  if (!cron) return;
  try {
    checkCron(cron);
  } catch (e) {
    throw badRequest(`invalid request body: trigger.settings.cron ${cron.slice(0, 64)}: ${(e as Error).message}`);
  }
}

/** Two rules alike in everything but their id would retain the same artifacts twice: Harbor's 409. */
function checkConflicts(rules: z.infer<typeof rule>[]): void {
  const seen = new Set<string>();
  for (const r of rules) {
    const key = JSON.stringify({ ...r, id: undefined, priority: undefined });
    if (seen.has(key)) throw conflict('two rules are the same');
    seen.add(key);
  }
}

function policyOut(p: RetentionPolicyRecord) {
  return { id: p.id, algorithm: p.algorithm, rules: p.rules.map((r, i) => ({ id: i + 1, priority: 0, action: 'retain', ...r })), trigger: p.trigger, scope: { level: 'project', ref: p.project_id } };
}

export function retentionRoutes(router: Router, d: RetentionApiDeps): void {
  const { admin: a, records, runner } = d;
  const projectOf = async (id: number): Promise<ProjectRecord> => {
    const p = await a.records.projects.get(id);
    if (!p) throw badRequest(`project ${id} not found`);
    return p;
  };
  const policyFor = async (ctx: Context, permission: ProjectPermission) => {
    const policy = await records.policies.get(idParam(ctx, 'id'));
    if (!policy) throw notFound('retention policy not found');
    const project = await projectOf(policy.project_id);
    await requireProject(ctx, a, project, permission);
    return { policy, project };
  };
  const executionOf = async (ctx: Context, policy: RetentionPolicyRecord) => {
    const e = await records.executions.get(idParam(ctx, 'eid'));
    if (!e || e.policy_id !== policy.id) throw notFound('retention execution not found');
    return e;
  };
  const setRetentionId = async (project: ProjectRecord, id: number | undefined) => {
    const metadata = { ...project.metadata };
    if (id === undefined) delete metadata.retention_id;
    else metadata.retention_id = String(id);
    await a.records.projects.update({ ...project, metadata, update_time: now() });
  };

  router.get('/retentions/metadatas', async (ctx) => {
    await requireUser(ctx, a); // Harbor: anyone signed in
    ctx.body = metadata;
  });
  router.post('/retentions', async (ctx) => {
    const body = await readBody(ctx, policyIn);
    const project = await projectOf(body.scope.ref);
    await requireProject(ctx, a, project, 'project.update');
    validCron(body.trigger.settings.cron);
    checkConflicts(body.rules);
    if ((await records.policies.list({ where: { project_id: project.id }, limit: 1 })).total > 0) throw conflict(`project ${project.name} already has a retention policy`);
    const p = await records.policies.insert({ project_id: project.id, algorithm: 'or', rules: body.rules as RetentionPolicyRecord['rules'], trigger: body.trigger as RetentionPolicyRecord['trigger'] });
    await setRetentionId(project, p.id);
    await auditChange(ctx, a, { operation: 'create', resource_type: 'retention', resource: project.name, project_id: project.id });
    created(ctx, `/api/v2.0/retentions/${p.id}`);
  });
  router.get('/retentions/:id', async (ctx) => {
    const { policy } = await policyFor(ctx, 'project.read');
    ctx.body = policyOut(policy);
  });
  router.put('/retentions/:id', async (ctx) => {
    const { policy, project } = await policyFor(ctx, 'project.update');
    const body = await readBody(ctx, policyIn);
    if (body.scope.ref !== policy.project_id) throw badRequest('a retention policy cannot move to another project');
    validCron(body.trigger.settings.cron);
    checkConflicts(body.rules);
    await records.policies.update({ ...policy, rules: body.rules as RetentionPolicyRecord['rules'], trigger: body.trigger as RetentionPolicyRecord['trigger'] });
    await auditChange(ctx, a, { operation: 'update', resource_type: 'retention', resource: project.name, project_id: project.id });
    ok(ctx);
  });
  router.delete('/retentions/:id', async (ctx) => {
    const { policy, project } = await policyFor(ctx, 'project.update');
    await records.policies.delete(policy.id);
    await setRetentionId(project, undefined);
    await auditChange(ctx, a, { operation: 'delete', resource_type: 'retention', resource: project.name, project_id: project.id });
    ok(ctx);
  });
  router.post('/retentions/:id/executions', async (ctx) => {
    const { policy, project } = await policyFor(ctx, 'project.update');
    const body = await readOptionalBody(ctx, z.object({ dry_run: z.boolean().default(false) }));
    const id = await runner.start(policy, project.name, 'MANUAL', body?.dry_run ?? false);
    await auditChange(ctx, a, { operation: 'create', resource_type: 'retention_execution', resource: project.name, project_id: project.id, operation_description: body?.dry_run ? 'dry run' : '' });
    created(ctx, `/api/v2.0/retentions/${policy.id}/executions/${id}`);
  });
  router.get('/retentions/:id/executions', async (ctx) => {
    const { policy } = await policyFor(ctx, 'project.read');
    const items = (await records.executions.list({ where: { policy_id: policy.id }, order: 'desc', limit: 1000 })).items;
    ctx.body = pageOf(ctx, items).map(({ stop_requested: _s, ...e }) => ({ ...e, end_time: e.end_time ?? '' }));
  });
  router.patch('/retentions/:id/executions/:eid', async (ctx) => {
    const { policy } = await policyFor(ctx, 'project.update');
    const e = await executionOf(ctx, policy);
    const body = await readBody(ctx, z.object({ action: z.string() }));
    if (body.action !== 'stop') throw badRequest('invalid request body: action: only "stop"');
    if (e.status === 'Running') await records.executions.update({ ...e, stop_requested: true });
    ok(ctx);
  });
  router.get('/retentions/:id/executions/:eid/tasks', async (ctx) => {
    const { policy } = await policyFor(ctx, 'project.read');
    const e = await executionOf(ctx, policy);
    const tasks = (await records.tasks.list({ where: { execution_id: e.id }, limit: 10_000 })).items;
    ctx.body = pageOf(ctx, tasks).map((t) => ({ id: t.id, execution_id: t.execution_id, repository: t.repository, job_id: String(t.id), status: t.status, status_code: t.status === 'Success' ? 3 : t.status === 'Running' ? 2 : 4, status_revision: 0, start_time: t.start_time, end_time: t.end_time ?? '', total: t.total, retained: t.retained }));
  });
  router.get('/retentions/:id/executions/:eid/tasks/:tid', async (ctx) => {
    const { policy } = await policyFor(ctx, 'project.read');
    const e = await executionOf(ctx, policy);
    const task = await records.tasks.get(idParam(ctx, 'tid'));
    if (!task || task.execution_id !== e.id) throw notFound('retention task not found');
    ctx.type = 'text/plain';
    ctx.body = task.log;
  });
}
