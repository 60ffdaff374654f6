import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readBody } from '../../core/harbor-api/body.js';
import { badRequest, conflict, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { idParam } from '../../core/harbor-api/params.js';
import { created, ok } from '../../core/harbor-api/responses.js';
import { sortBy, type SortKeys } from '../../core/harbor-api/sort.js';
import type { ImmutableRuleRecord } from '../../registry/immutability.js';
import type { ProjectRecord } from '../auth/records.js';
import { auditChange, projectParam, requireProject, type AdminDeps } from './context.js';

// Harbor's /projects/{p}/immutabletagrules. The rules are enforced in registry/immutability.ts; here they are
// listed, created, changed and deleted in Harbor's ImmutableRule shape.

/** Harbor's limit on rules per project. */
const MAX_RULES = 15;

const selector = (decorations: [string, string]) =>
  z.object({
    kind: z.literal('doublestar').default('doublestar'), // harbor-cli sends none
    decoration: z.enum(decorations),
    pattern: z.string().min(1).max(1024),
    extras: z.string().optional(),
  });
const immutableRule = z.object({
  id: z.number().int().optional(),
  priority: z.number().int().optional(),
  disabled: z.boolean().optional(),
  action: z.literal('immutable').optional(),
  template: z.literal('immutable_template').optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  tag_selectors: z.array(selector(['matches', 'excludes'])).min(1).max(1),
  scope_selectors: z.object({ repository: z.array(selector(['repoMatches', 'repoExcludes'])).min(1).max(1) }),
});
export const immutableRuleSchemas = { ImmutableRule: immutableRule };
type RuleBody = z.infer<typeof immutableRule>;

export function immutableRuleRoutes(router: Router, a: AdminDeps): void {
  const base = '/projects/:project_name_or_id/immutabletagrules';
  router.get(base, (ctx) => listRules(ctx, a));
  router.post(base, (ctx) => createRule(ctx, a));
  router.put(`${base}/:immutable_rule_id`, (ctx) => updateRule(ctx, a));
  router.delete(`${base}/:immutable_rule_id`, (ctx) => deleteRule(ctx, a));
}

function ruleResponse(r: ImmutableRuleRecord) {
  return {
    id: r.id,
    priority: r.priority,
    disabled: r.disabled,
    action: r.action,
    template: r.template,
    params: r.params,
    tag_selectors: r.tag_selectors,
    scope_selectors: r.scope_selectors,
  };
}

const ruleSorts: SortKeys<ImmutableRuleRecord> = { id: (r) => r.id, priority: (r) => r.priority };

/** What makes two rules the same (Harbor refuses a duplicate). */
const fingerprint = (r: Pick<RuleBody, 'tag_selectors' | 'scope_selectors'>) =>
  JSON.stringify([r.tag_selectors.map((s) => [s.decoration, s.pattern]), r.scope_selectors.repository.map((s) => [s.decoration, s.pattern])]);

async function listRules(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'immutable-tag.list');
  const p = paging(ctx);
  ctx.body = pageOf(ctx, sortBy(ctx, await a.registry.registry.immutability.ofProject(project.name), ruleSorts), p).map(ruleResponse);
}

function fields(project: ProjectRecord, body: RuleBody): Omit<ImmutableRuleRecord, 'id'> {
  return {
    project: project.name,
    project_id: project.id,
    priority: body.priority ?? 0,
    disabled: body.disabled ?? false,
    action: 'immutable',
    template: 'immutable_template',
    params: body.params ?? {},
    tag_selectors: body.tag_selectors.map(({ kind, decoration, pattern }) => ({ kind, decoration, pattern })),
    scope_selectors: { repository: body.scope_selectors.repository.map(({ kind, decoration, pattern }) => ({ kind, decoration, pattern })) },
  };
}

async function createRule(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'immutable-tag.manage');
  const body = await readBody(ctx, immutableRule);
  const existing = await a.registry.registry.immutability.ofProject(project.name);
  if (existing.length >= MAX_RULES) throw badRequest(`a project has at most ${MAX_RULES} immutable tag rules`);
  if (existing.some((r) => fingerprint(r) === fingerprint(body))) throw conflict('an identical immutable tag rule exists in this project');
  const rule = await a.registry.registry.immutability.rules.insert(fields(project, body));
  await auditChange(ctx, a, { operation: 'create', resource_type: 'immutable_rule', resource: `${project.name}:${rule.id}`, project_id: project.id });
  created(ctx, `/api/v2.0/projects/${ctx.params.project_name_or_id}/immutabletagrules/${rule.id}`);
}

async function ruleParam(ctx: Context, a: AdminDeps, project: ProjectRecord): Promise<ImmutableRuleRecord> {
  const id = idParam(ctx, 'immutable_rule_id');
  const rule = await a.registry.registry.immutability.rules.get(id);
  if (!rule || rule.project_id !== project.id) throw notFound(`immutable tag rule ${id} not found in project ${project.name}`);
  return rule;
}

async function updateRule(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'immutable-tag.manage');
  const rule = await ruleParam(ctx, a, project);
  const body = await readBody(ctx, immutableRule);
  const others = (await a.registry.registry.immutability.ofProject(project.name)).filter((r) => r.id !== rule.id);
  if (others.some((r) => fingerprint(r) === fingerprint(body))) throw conflict('an identical immutable tag rule exists in this project');
  await a.registry.registry.immutability.rules.update({ ...fields(project, body), id: rule.id, priority: body.priority ?? rule.priority });
  await auditChange(ctx, a, { operation: 'update', resource_type: 'immutable_rule', resource: `${project.name}:${rule.id}`, project_id: project.id, operation_description: `disabled=${body.disabled ?? false}` });
  ok(ctx);
}

async function deleteRule(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'immutable-tag.manage');
  const rule = await ruleParam(ctx, a, project);
  await a.registry.registry.immutability.rules.delete(rule.id);
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'immutable_rule', resource: `${project.name}:${rule.id}`, project_id: project.id });
  ok(ctx);
}
