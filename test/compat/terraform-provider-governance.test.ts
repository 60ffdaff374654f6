// terraform-provider-harbor's resources over the APIs of the artifacts and governance work (labels; immutable tag
// rules, retention, webhooks, project storage quotas), replayed like terraform-provider.test.ts: its exact requests,
// every answer checked against Harbor v2.15.2's swagger, every Read compared as the provider compares it.
import t, { type Test } from 'tap';
import { admin, basic, startTokenBerth } from '../auth/access.js';
import { GO_ZERO_TIME, GONE, providerId, Replay } from './replay.js';

const berth = await startTokenBerth(t);
const tf = new Replay(berth.url, { Authorization: basic(admin), 'Content-Type': 'application/json' }, true);

/** resource "harbor_project" with the provider's defaults (see terraform-provider.test.ts for the whole body). */
async function project(t: Test, name: string, storageLimit = -1): Promise<{ id: string; projectId: number }> {
  const metadata = {
    enable_content_trust: 'false', enable_content_trust_cosign: 'false', auto_scan: 'true', severity: 'low', reuse_sys_cve_allowlist: 'true',
    public: 'false', prevent_vul: 'false', auto_sbom_generation: 'false', proxy_speed_kb: '-1', proxy_cache_local_on_not_found: 'false',
  };
  const created = await tf.send(t, 'POST', '/projects', { body: { project_name: name, cve_allowlist: {}, storage_limit: storageLimit, metadata }, expect: 201 });
  const id = providerId(created);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  return { id, projectId: read.json.project_id };
}

t.test('harbor_label (global, then project): create, read, update, read, destroy', async (t) => {
  // resource "harbor_label" { name = "tf-label" } — every field goes out (no omitempty)
  const body = { description: '', color: '', deleted: false, scope: 'g', project_id: 0, id: 0, name: 'tf-label' };
  const created = await tf.send(t, 'POST', '/labels', { body, expect: 201 });
  const id = providerId(created);
  t.match(id, /^\/labels\/\d+$/);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  t.same({ name: read.json.name, description: read.json.description ?? '', color: read.json.color ?? '', scope: read.json.scope }, { name: 'tf-label', description: '', color: '', scope: 'g' });
  // color = "#61717D", description = "from terraform"
  await tf.send(t, 'PUT', id, { body: { ...body, color: '#61717D', description: 'from terraform' }, expect: 200 });
  const after = await tf.send(t, 'GET', id, { expect: 200 });
  t.same({ color: after.json.color, description: after.json.description }, { color: '#61717D', description: 'from terraform' });
  await tf.send(t, 'DELETE', id, { expect: 200 });
  await tf.send(t, 'GET', id, GONE);

  // project_id = harbor_project.main.id: scope "p" and the numeric id
  const { projectId } = await project(t, 'tf-labels');
  const pbody = { description: '', color: '#FF0000', deleted: false, scope: 'p', project_id: projectId, id: 0, name: 'tf-project-label' };
  const pcreated = await tf.send(t, 'POST', '/labels', { body: pbody, expect: 201 });
  const pid = providerId(pcreated);
  const pread = await tf.send(t, 'GET', pid, { expect: 200 });
  t.same({ name: pread.json.name, color: pread.json.color, scope: pread.json.scope, project_id: pread.json.project_id }, { name: 'tf-project-label', color: '#FF0000', scope: 'p', project_id: projectId });
  await tf.send(t, 'DELETE', pid, { expect: 200 });
});

/** GetImmutableTagRuleBody for repo_matching/tag_matching/tag_excluding and disabled. */
function immutableBody(o: { id?: number; repo: string; tagMatching?: string; tagExcluding?: string; disabled?: boolean }) {
  return {
    ...(o.id && { id: o.id }),
    disabled: o.disabled ?? false,
    scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: o.repo }] },
    tag_selectors: [{ kind: 'doublestar', decoration: o.tagExcluding ? 'excludes' : 'matches', pattern: o.tagExcluding ?? o.tagMatching ?? '' }],
    action: 'immutable',
    template: 'immutable_template',
  };
}

/** resourceImmutableTagRuleRead: pages of 15 until a short page, then the rule with the id. */
async function readImmutable(t: Test, id: string): Promise<any> {
  const base = id.slice(0, id.lastIndexOf('/'));
  const ruleId = Number(id.slice(id.lastIndexOf('/') + 1));
  const rules: any[] = [];
  for (let page = 1; ; page++) {
    const r = await tf.send(t, 'GET', `${base}?page=${page}&page_size=15`, { expect: 200 });
    rules.push(...r.json);
    if (r.json.length < 15) break;
  }
  return rules.find((r) => r.id === ruleId);
}

t.test('harbor_immutable_tag_rule: create, read, update (tag_excluding, disabled), read, destroy; created disabled = POST then PUT', async (t) => {
  const { id: projectId } = await project(t, 'tf-immutable');
  // repo_matching = "**", tag_matching = "v*"
  const created = await tf.send(t, 'POST', `${projectId}/immutabletagrules`, { body: immutableBody({ repo: '**', tagMatching: 'v*' }), expect: 201 });
  const id = providerId(created);
  t.match(id, new RegExp(`^${projectId}/immutabletagrules/\\d+$`));
  const rule = await readImmutable(t, id);
  t.ok(rule, 'the rule is in the project\'s list');
  t.same({ disabled: rule?.disabled, tag: rule?.tag_selectors?.[0], repo: rule?.scope_selectors?.repository?.[0] },
    { disabled: false, tag: { kind: 'doublestar', decoration: 'matches', pattern: 'v*' }, repo: { kind: 'doublestar', decoration: 'repoMatches', pattern: '**' } }, 'state equals the configuration');

  // tag_excluding = "latest", disabled = true
  const ruleId = Number(id.split('/').pop());
  await tf.send(t, 'PUT', id, { body: immutableBody({ id: ruleId, repo: '**', tagExcluding: 'latest', disabled: true }), expect: 200 });
  const after = await readImmutable(t, id);
  t.same({ disabled: after?.disabled, decoration: after?.tag_selectors?.[0]?.decoration, pattern: after?.tag_selectors?.[0]?.pattern }, { disabled: true, decoration: 'excludes', pattern: 'latest' });
  await tf.send(t, 'DELETE', id, { expect: 200 });
  t.equal(await readImmutable(t, id), undefined, 'gone from the list (the provider then drops it from the state)');

  // disabled = true at create: Harbor creates it enabled, so the provider PUTs right after
  const second = await tf.send(t, 'POST', `${projectId}/immutabletagrules`, { body: immutableBody({ repo: 'app/**', tagMatching: 'release-*', disabled: true }), expect: 201 });
  const sid = providerId(second);
  await tf.send(t, 'PUT', sid, { body: immutableBody({ id: Number(sid.split('/').pop()), repo: 'app/**', tagMatching: 'release-*', disabled: true }), expect: 200 });
  t.equal((await readImmutable(t, sid))?.disabled, true);
  await tf.send(t, 'DELETE', sid, { expect: 200 });
});

/** GetRententionBody for a project scope, a schedule and rules as the provider expands them. */
function retentionBody(projectId: number, cron: string, rules: Array<{ template: string; params: Record<string, number>; repo: string; tag: { decoration: string; pattern: string } }>, id?: number) {
  return {
    ...(id && { id }),
    algorithm: 'or',
    rules: rules.map((r) => ({
      disabled: false, action: 'retain',
      scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: r.repo }] },
      tag_selectors: [{ kind: 'doublestar', decoration: r.tag.decoration, pattern: r.tag.pattern, extras: '{"untagged":false}' }],
      params: r.params, template: r.template,
    })),
    trigger: { kind: 'Schedule', references: {}, settings: { cron } },
    scope: { level: 'project', ref: projectId },
  };
}

/** resourceRetentionRead's flattening of one rule. */
function retentionRule(r: any) {
  const value: Record<string, string> = { latestPulledN: 'most_recently_pulled', latestPushedK: 'most_recently_pushed', nDaysSinceLastPull: 'n_days_since_last_pull', nDaysSinceLastPush: 'n_days_since_last_push' };
  return {
    disabled: r.disabled,
    [value[r.template] ?? 'always_retain']: value[r.template] ? r.params?.[r.template] : r.template === 'always',
    [r.tag_selectors[0].decoration === 'matches' ? 'tag_matching' : 'tag_excluding']: r.tag_selectors[0].pattern,
    [r.scope_selectors.repository[0].decoration === 'repoMatches' ? 'repo_matching' : 'repo_excluding']: r.scope_selectors.repository[0].pattern,
    untagged_artifacts: String(r.tag_selectors[0].extras ?? '').includes('true'),
  };
}

t.test('harbor_retention_policy: create, read, update (schedule, rules), read, destroy (a PUT with no rules)', async (t) => {
  const { id: projectPath, projectId } = await project(t, 'tf-retention');
  // scope = harbor_project.main.id, schedule = "Daily", two rules
  const rules: Parameters<typeof retentionBody>[2] = [
    { template: 'nDaysSinceLastPull', params: { nDaysSinceLastPull: 5 }, repo: '**', tag: { decoration: 'matches', pattern: 'latest' } },
    { template: 'nDaysSinceLastPush', params: { nDaysSinceLastPush: 10 }, repo: '**', tag: { decoration: 'excludes', pattern: 'latest' } },
  ];
  const created = await tf.send(t, 'POST', '/retentions', { body: retentionBody(projectId, '0 0 0 * * *', rules), expect: 201 });
  const id = providerId(created);
  t.match(id, /^\/retentions\/\d+$/);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  t.equal(`/projects/${read.json.scope?.ref}`, projectPath, 'scope read back');
  t.equal(read.json.trigger?.settings?.cron, '0 0 0 * * *', 'schedule "Daily" read back as its cron');
  t.same((read.json.rules ?? []).map(retentionRule), [
    { disabled: false, n_days_since_last_pull: 5, tag_matching: 'latest', repo_matching: '**', untagged_artifacts: false },
    { disabled: false, n_days_since_last_push: 10, tag_excluding: 'latest', repo_matching: '**', untagged_artifacts: false },
  ], 'rules read back as configured');
  const proj = await tf.send(t, 'GET', projectPath, { expect: 200 });
  t.equal(proj.json.metadata?.retention_id, id.split('/').pop(), 'the project names its retention policy (the provider falls back to it when POST fails)');

  // schedule = "Weekly", one rule: most_recently_pushed = 3
  const retentionId = Number(id.split('/').pop());
  const update = [{ template: 'latestPushedK', params: { latestPushedK: 3 }, repo: 'app/**', tag: { decoration: 'matches', pattern: '**' } }];
  await tf.send(t, 'PUT', id, { body: retentionBody(projectId, '0 0 0 * * 0', update), expect: 200 });
  const after = await tf.send(t, 'GET', id, { expect: 200 });
  t.equal(after.json.trigger?.settings?.cron, '0 0 0 * * 0');
  t.same((after.json.rules ?? []).map(retentionRule), [{ disabled: false, most_recently_pushed: 3, tag_matching: '**', repo_matching: 'app/**', untagged_artifacts: false }]);

  // destroy: PUT with no rules and no schedule
  await tf.send(t, 'PUT', id, { body: { id: retentionId, algorithm: 'or', rules: [], trigger: { kind: 'Schedule', references: {}, settings: { cron: '' } }, scope: { level: 'project', ref: projectId } }, expect: 200 });
  const emptied = await tf.send(t, 'GET', id, { expect: 200 });
  t.same(emptied.json.rules ?? [], [], 'no rules left');
});

t.test('harbor_project_webhook: create, read, update (address, enabled, events), read, destroy', async (t) => {
  const { id: projectPath } = await project(t, 'tf-webhooks');
  // name, address, notify_type = "http", events_types, skip_cert_verify (default true), enabled (default true)
  const body = (o: { address: string; enabled: boolean; events: string[] }) => ({
    update_time: GO_ZERO_TIME, description: '', creator: '', creation_time: GO_ZERO_TIME, enabled: o.enabled,
    // the provider's struct tag is `json:"payload_format:omitempty"`, so that is the key Go writes
    targets: [{ type: 'http', auth_header: '', skip_cert_verify: true, address: o.address, 'payload_format:omitempty': '' }],
    event_types: o.events, project_id: 0, id: 0, name: 'tf-hook',
  });
  const created = await tf.send(t, 'POST', `${projectPath}/webhook/policies`, { body: body({ address: 'http://127.0.0.1:9/hook', enabled: true, events: ['PUSH_ARTIFACT', 'DELETE_ARTIFACT'] }), expect: 201 });
  const id = providerId(created);
  t.match(id, new RegExp(`^${projectPath}/webhook/policies/\\d+$`));
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  const state = (p: any) => ({ name: p.name, description: p.description ?? '', enabled: p.enabled, notify_type: p.targets?.[0]?.type, address: p.targets?.[0]?.address, auth_header: p.targets?.[0]?.auth_header ?? '', skip_cert_verify: p.targets?.[0]?.skip_cert_verify ?? false });
  t.same(state(read.json), { name: 'tf-hook', description: '', enabled: true, notify_type: 'http', address: 'http://127.0.0.1:9/hook', auth_header: '', skip_cert_verify: true }, 'state equals the configuration');
  t.same([...(read.json.event_types ?? [])].sort(), ['DELETE_ARTIFACT', 'PUSH_ARTIFACT']);

  await tf.send(t, 'PUT', id, { body: body({ address: 'http://127.0.0.1:9/other', enabled: false, events: ['PUSH_ARTIFACT'] }), expect: 200 });
  const after = await tf.send(t, 'GET', id, { expect: 200 });
  t.same({ address: after.json.targets?.[0]?.address, enabled: after.json.enabled, events: after.json.event_types }, { address: 'http://127.0.0.1:9/other', enabled: false, events: ['PUSH_ARTIFACT'] });
  await tf.send(t, 'DELETE', id, { expect: 200 });
  await tf.send(t, 'GET', id, GONE);
});

t.test('harbor_project storage_quota update: /configurations, the quota pages, PUT /quotas/{id}', async (t) => {
  const { id: projectPath, projectId } = await project(t, 'tf-quota');
  const config = await tf.send(t, 'GET', '/configurations', { expect: 200 });
  t.equal(config.json.quota_per_project_enable?.value, true, 'quotas per project are on, so the provider goes on');
  let quotaId: number | undefined;
  for (let page = 1; ; page++) {
    const r = await tf.send(t, 'GET', `/quotas/?page=${page}&page_size=100`, { expect: 200 });
    if (r.json.length === 0) break;
    const q = (r.json as any[]).find((x) => String(x.ref?.id) === projectPath.replace('/projects/', ''));
    if (q) {
      quotaId = q.id;
      await tf.send(t, 'PUT', `/quotas/${q.id}`, { body: { hard: { storage: 2 * 1073741824 } }, expect: 200 });
    }
    if (page > 10) break;
  }
  t.ok(quotaId, `project ${projectId} has a quota`);
  const q = await tf.send(t, 'GET', `/quotas/${quotaId}`, { expect: 200 });
  t.equal(q.json.hard?.storage, 2 * 1073741824, 'storage_quota = 2 (GB) read back');
});
