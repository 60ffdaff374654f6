import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readBody } from '../../core/harbor-api/body.js';
import { notFound, precondition } from '../../core/harbor-api/errors.js';
import { pageOf, paging, setPageHeaders } from '../../core/harbor-api/paging.js';
import { idParam, parseInteger, queryString } from '../../core/harbor-api/params.js';
import { created, ok } from '../../core/harbor-api/responses.js';
import { startExecution } from '../executions.js';
import { countTasks, type ExecutionRecord, type TaskRecord } from '../records.js';
import type { ReplicationApiDeps } from './deps.js';

// Executions and their tasks (Harbor's /replication/executions): start one by hand, follow it, stop it.

const executionIn = z.object({ policy_id: z.number().int().min(1) });

export function executionRoutes(router: Router, d: ReplicationApiDeps): void {
  const { executions } = d.records;

  router.get('/replication/executions', async (ctx) => {
    const where: Partial<Record<keyof ExecutionRecord, string | number>> = {};
    const policyId = queryString(ctx, 'policy_id');
    if (policyId) where.policy_id = parseInteger(policyId, 'policy_id', 'query');
    const status = queryString(ctx, 'status');
    if (status) where.status = status;
    const trigger = queryString(ctx, 'trigger');
    if (trigger) where.trigger = trigger;
    const p = paging(ctx);
    const { items, total } = await executions.list({ where, order: 'desc', offset: p.offset, limit: p.limit });
    setPageHeaders(ctx, total, p);
    ctx.body = await Promise.all(items.map((e) => executionOut(d, e)));
  });

  router.post('/replication/executions', async (ctx) => {
    const body = await readBody(ctx, executionIn);
    const policy = await d.records.policies.get(body.policy_id);
    if (!policy) throw notFound(`policy ${body.policy_id} not found`);
    if (!policy.enabled) throw precondition(`policy ${policy.name} is disabled`);
    const record = await startExecution(d.records, policy, 'manual');
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
    ok(ctx);
  });

  router.get('/replication/executions/:id/tasks', async (ctx) => {
    const e = await executionById(d, ctx);
    let tasks = await d.records.allTasks(e.id);
    const status = queryString(ctx, 'status');
    if (status) tasks = tasks.filter((t) => t.status === status);
    const resourceType = queryString(ctx, 'resource_type');
    if (resourceType) tasks = tasks.filter((t) => t.resource_type === resourceType);
    ctx.body = pageOf(ctx, tasks).map(taskOut);
  });

  router.get('/replication/executions/:id/tasks/:task_id', async (ctx) => {
    ctx.body = taskOut(await taskById(d, ctx));
  });

  router.get('/replication/executions/:id/tasks/:task_id/log', async (ctx) => {
    const t = await taskById(d, ctx);
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
    // still running: no end_time (Harbor's swagger has a date-time there, never null)
    ...(e.end_time !== null && { end_time: e.end_time }),
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
    ...(t.end_time !== null && { end_time: t.end_time }),
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

async function taskById(d: ReplicationApiDeps, ctx: Context): Promise<TaskRecord> {
  const e = await executionById(d, ctx);
  const t = await d.records.tasks(e.id).get(idParam(ctx, 'task_id'));
  if (!t) throw notFound(`task ${ctx.params.task_id} not found`);
  return t;
}
