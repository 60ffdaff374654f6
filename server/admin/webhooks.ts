import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readBody } from '../../core/harbor-api/body.js';
import { badRequest, conflict, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { idParam, queryString } from '../../core/harbor-api/params.js';
import { created, ok } from '../../core/harbor-api/responses.js';
import { sortBy, type SortKeys } from '../../core/harbor-api/sort.js';
import { ConflictError } from '../../storage-adapters/meta/meta-store.js';
import { PAYLOAD_FORMATS, WEBHOOK_EVENT_TYPES, type WebhookJobRecord, type WebhookPolicyRecord, type WebhookRecords } from '../../registry/webhooks/records.js';
import { principalName } from '../auth/principal.js';
import type { ProjectRecord } from '../auth/records.js';
import { auditChange, callerOf, projectParam, requireProject, type AdminDeps } from './context.js';

// Harbor's /projects/{p}/webhook/…: policies, their executions (one per event and target, with one task and its
// log), last triggers and the supported events. Delivery is registry/webhooks/dispatcher.ts.

const target = z.object({
  type: z.literal('http').default('http'),
  address: z.string().url().refine((u) => /^https?:\/\//.test(u), 'an http or https URL'),
  auth_header: z.string().max(4096).optional(),
  skip_cert_verify: z.boolean().default(false),
  payload_format: z.enum(PAYLOAD_FORMATS).default('Default'),
});
const webhookPolicy = z.object({
  id: z.number().int().optional(),
  name: z.string().min(1).max(256),
  description: z.string().max(1024).optional(),
  project_id: z.number().int().optional(),
  targets: z.array(target).min(1).max(10),
  event_types: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1),
  enabled: z.boolean().default(true),
});
export const webhookSchemas = { WebhookPolicy: webhookPolicy };

export function webhookRoutes(router: Router, a: AdminDeps, records: WebhookRecords): void {
  const base = '/projects/:project_name_or_id/webhook';
  router.get(`${base}/policies`, (ctx) => listPolicies(ctx, a, records));
  router.post(`${base}/policies`, (ctx) => createPolicy(ctx, a, records));
  router.get(`${base}/policies/:webhook_policy_id`, async (ctx) => {
    const { policy } = await policyParam(ctx, a, records, 'webhook.list');
    ctx.body = policyResponse(policy);
  });
  router.put(`${base}/policies/:webhook_policy_id`, (ctx) => updatePolicy(ctx, a, records));
  router.delete(`${base}/policies/:webhook_policy_id`, (ctx) => deletePolicy(ctx, a, records));
  router.get(`${base}/policies/:webhook_policy_id/executions`, (ctx) => listExecutions(ctx, a, records));
  router.get(`${base}/policies/:webhook_policy_id/executions/:execution_id/tasks`, (ctx) => listTasks(ctx, a, records));
  router.get(`${base}/policies/:webhook_policy_id/executions/:execution_id/tasks/:task_id/log`, (ctx) => taskLog(ctx, a, records));
  router.get(`${base}/jobs`, (ctx) => listJobs(ctx, a, records));
  router.get(`${base}/lasttrigger`, (ctx) => lastTrigger(ctx, a, records));
  router.get(`${base}/events`, async (ctx) => {
    await requireProject(ctx, a, await projectParam(ctx, a), 'webhook.list');
    ctx.body = { event_type: [...WEBHOOK_EVENT_TYPES], notify_type: ['http'], payload_formats: [{ notify_type: 'http', formats: [...PAYLOAD_FORMATS] }] };
  });
}

function policyResponse(p: WebhookPolicyRecord) {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    project_id: p.project_id,
    // Harbor never shows the auth header back in full.
    targets: p.targets.map((t) => ({ ...t, ...(t.auth_header && { auth_header: '*****' }) })),
    event_types: p.event_types,
    creator: p.creator,
    creation_time: p.creation_time,
    update_time: p.update_time,
    enabled: p.enabled,
  };
}

const policySorts: SortKeys<WebhookPolicyRecord> = { id: (p) => p.id, name: (p) => p.name, creation_time: (p) => p.creation_time, update_time: (p) => p.update_time };

async function listPolicies(ctx: Context, a: AdminDeps, records: WebhookRecords): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'webhook.list');
  const p = paging(ctx);
  ctx.body = pageOf(ctx, sortBy(ctx, await records.ofProject(project.id), policySorts), p).map(policyResponse);
}

async function createPolicy(ctx: Context, a: AdminDeps, records: WebhookRecords): Promise<void> {
  const project = await projectParam(ctx, a);
  const caller = await requireProject(ctx, a, project, 'webhook.manage');
  const body = await readBody(ctx, webhookPolicy);
  const t = new Date().toISOString();
  let policy: WebhookPolicyRecord;
  try {
    policy = await records.policies.insert({
      key: `${project.id}/${body.name}`,
      name: body.name,
      description: body.description ?? '',
      project_id: project.id,
      project: project.name,
      targets: body.targets,
      event_types: [...new Set(body.event_types)],
      creator: principalName(caller),
      enabled: body.enabled,
      creation_time: t,
      update_time: t,
    });
  } catch (e) {
    if (e instanceof ConflictError) throw conflict(`a webhook policy named ${body.name} exists in project ${project.name}`);
    throw e;
  }
  records.changed(project.name);
  await auditChange(ctx, a, { operation: 'create', resource_type: 'webhook_policy', resource: `${project.name}:${policy.name}`, project_id: project.id });
  created(ctx, `/api/v2.0/projects/${ctx.params.project_name_or_id}/webhook/policies/${policy.id}`);
}

async function policyParam(ctx: Context, a: AdminDeps, records: WebhookRecords, permission: 'webhook.list' | 'webhook.manage'): Promise<{ project: ProjectRecord; policy: WebhookPolicyRecord }> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, permission);
  const id = idParam(ctx, 'webhook_policy_id');
  const policy = await records.policies.get(id);
  if (!policy || policy.project_id !== project.id) throw notFound(`webhook policy ${id} not found in project ${project.name}`);
  return { project, policy };
}

async function updatePolicy(ctx: Context, a: AdminDeps, records: WebhookRecords): Promise<void> {
  const { project, policy } = await policyParam(ctx, a, records, 'webhook.manage');
  const body = await readBody(ctx, webhookPolicy);
  // A target sent back with the masked header keeps the stored one.
  const targets = body.targets.map((t, i) => (t.auth_header === '*****' ? { ...t, auth_header: policy.targets[i]?.auth_header } : t));
  try {
    await records.policies.update({
      ...policy,
      key: `${project.id}/${body.name}`,
      name: body.name,
      description: body.description ?? policy.description,
      targets: targets.map(({ auth_header, ...t }) => ({ ...t, ...(auth_header && { auth_header }) })),
      event_types: [...new Set(body.event_types)],
      enabled: body.enabled,
      update_time: new Date().toISOString(),
    });
  } catch (e) {
    if (e instanceof ConflictError) throw conflict(`a webhook policy named ${body.name} exists in project ${project.name}`);
    throw e;
  }
  records.changed(project.name);
  await auditChange(ctx, a, { operation: 'update', resource_type: 'webhook_policy', resource: `${project.name}:${body.name}`, project_id: project.id });
  ok(ctx);
}

async function deletePolicy(ctx: Context, a: AdminDeps, records: WebhookRecords): Promise<void> {
  const { project, policy } = await policyParam(ctx, a, records, 'webhook.manage');
  await records.policies.delete(policy.id);
  records.changed(project.name);
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'webhook_policy', resource: `${project.name}:${policy.name}`, project_id: project.id });
  ok(ctx);
}

async function jobsOf(records: WebhookRecords, policyId: number, status?: string): Promise<WebhookJobRecord[]> {
  const out: WebhookJobRecord[] = [];
  for (let offset = 0; ; offset += 500) {
    const { items } = await records.jobs.list({ where: { policy_id: policyId, ...(status && { status }) }, order: 'desc', offset, limit: 500 });
    out.push(...items);
    if (items.length < 500) return out;
  }
}

const statusOf = (j: WebhookJobRecord) => (j.status === 'Pending' && j.attempts > 0 ? 'Running' : j.status);

function executionResponse(j: WebhookJobRecord) {
  return {
    id: j.id,
    vendor_type: 'WEBHOOK',
    vendor_id: j.policy_id,
    status: statusOf(j),
    status_message: j.status_message,
    metrics: { task_count: 1, [`${statusOf(j).toLowerCase()}_task_count`]: 1 },
    trigger: 'EVENT',
    extra_attrs: { event_type: j.event_type, payload: j.payload },
    start_time: j.start_time ?? j.creation_time,
    ...(j.end_time && { end_time: j.end_time }),
  };
}

async function listExecutions(ctx: Context, a: AdminDeps, records: WebhookRecords): Promise<void> {
  const { policy } = await policyParam(ctx, a, records, 'webhook.list');
  const p = paging(ctx);
  ctx.body = pageOf(ctx, await jobsOf(records, policy.id, queryString(ctx, 'status')), p).map(executionResponse);
}

async function jobParam(ctx: Context, a: AdminDeps, records: WebhookRecords): Promise<WebhookJobRecord> {
  const { policy } = await policyParam(ctx, a, records, 'webhook.list');
  const id = idParam(ctx, 'execution_id');
  const job = await records.jobs.get(id);
  if (!job || job.policy_id !== policy.id) throw notFound(`execution ${id} not found`);
  return job;
}

function taskResponse(j: WebhookJobRecord) {
  return {
    id: j.id,
    execution_id: j.id,
    status: statusOf(j),
    status_message: j.status_message,
    run_count: j.attempts,
    extra_attrs: { event_type: j.event_type, address: j.address },
    creation_time: j.creation_time,
    update_time: j.update_time,
    start_time: j.start_time ?? '',
    end_time: j.end_time ?? '',
  };
}

async function listTasks(ctx: Context, a: AdminDeps, records: WebhookRecords): Promise<void> {
  ctx.body = [taskResponse(await jobParam(ctx, a, records))];
}

async function taskLog(ctx: Context, a: AdminDeps, records: WebhookRecords): Promise<void> {
  const job = await jobParam(ctx, a, records);
  if (idParam(ctx, 'task_id') !== job.id) throw notFound('task not found');
  ctx.type = 'text/plain';
  ctx.body = `${job.update_time} ${job.event_type} to ${job.address}: ${statusOf(job)} after ${job.attempts} attempt(s)${job.status_message ? `: ${job.status_message}` : ''}\n`;
}

/** Harbor's deprecated /webhook/jobs?policy_id=. */
async function listJobs(ctx: Context, a: AdminDeps, records: WebhookRecords): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'webhook.list');
  const raw = queryString(ctx, 'policy_id');
  if (!raw) throw badRequest('policy_id is required');
  const policy = await records.policies.get(Number(raw));
  if (!policy || policy.project_id !== project.id) throw notFound(`webhook policy ${raw} not found`);
  const p = paging(ctx);
  ctx.body = pageOf(ctx, await jobsOf(records, policy.id, queryString(ctx, 'status')), p).map((j) => ({
    id: j.id, policy_id: j.policy_id, event_type: j.event_type, notify_type: 'http', status: statusOf(j), job_detail: j.payload, creation_time: j.creation_time, update_time: j.update_time,
  }));
}

async function lastTrigger(ctx: Context, a: AdminDeps, records: WebhookRecords): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'webhook.list');
  await callerOf(ctx, a);
  const out = [];
  for (const policy of await records.ofProject(project.id)) {
    const jobs = await jobsOf(records, policy.id);
    for (const type of policy.event_types) {
      const last = jobs.find((j) => j.event_type === type);
      out.push({ policy_name: policy.name, enabled: policy.enabled, event_type: type, creation_time: policy.creation_time, ...(last && { last_trigger_time: last.creation_time }) });
    }
  }
  ctx.body = out;
}
