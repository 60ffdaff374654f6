// terraform-provider-harbor (goharbor/terraform-provider-harbor @489db88) replayed against a token-auth Berth:
// each resource's Create → Read → Update → Read → Delete with the requests its client/*.go builds (bodies as Go's
// encoding/json writes its models/*.go structs for the HCL shown), each answer checked against Harbor v2.15.2's
// swagger, and each Read checked for the values the provider compares with the configuration (a difference there
// is a perpetual diff in `terraform plan`).
import t, { type Test } from 'tap';
import { ADMIN_PASSWORD, admin, basic, pushImage, startTokenBerth, tokenReply } from '../auth/access.js';
import { startTlsRegistry } from '../helpers/tls-registry.js';
import { GONE, providerId, Replay } from './replay.js';

const berth = await startTokenBerth(t);
// provider.go: url + "/api/v2.0"; every request carries Basic auth and Content-Type: application/json
const tf = new Replay(berth.url, { Authorization: basic(admin), 'Content-Type': 'application/json' }, true);

/** ProjectBody(d) for `resource "harbor_project"` with the provider's defaults unless overridden. */
function projectBody(name: string, o: { public?: boolean; vulnerabilityScanning?: boolean; deploymentSecurity?: string; cves?: string[]; storageQuotaGb?: number } = {}) {
  const quota = o.storageQuotaGb ?? -1;
  const cves = o.cves ?? [];
  return {
    project_name: name,
    // struct fields without omitempty effect: cve_allowlist and metadata always go out
    cve_allowlist: cves.length > 0 ? { items: cves.map((c) => ({ cve_id: c })) } : {},
    storage_limit: quota === -1 ? -1 : quota * 1073741824,
    metadata: {
      enable_content_trust: 'false',
      enable_content_trust_cosign: 'false',
      auto_scan: String(o.vulnerabilityScanning ?? true),
      severity: o.deploymentSecurity ?? 'low',
      reuse_sys_cve_allowlist: cves.length > 0 ? 'false' : 'true',
      public: String(o.public ?? false),
      prevent_vul: o.deploymentSecurity ? 'true' : 'false',
      auto_sbom_generation: 'false',
      proxy_speed_kb: '-1',
      proxy_cache_local_on_not_found: 'false',
    },
  };
}

/** resourceProjectRead's view of GET /projects/{id}: what it sets in the state. */
function projectState(p: any) {
  const bool = (v: string | undefined) => (v === undefined || v === '' ? false : v === 'true');
  const severity = p.metadata?.severity ?? '';
  const preventVul = bool(p.metadata?.prevent_vul);
  const driftSecurity = (severity === 'none' && preventVul) || (severity !== 'none' && !preventVul);
  return {
    name: p.name,
    public: bool(p.metadata?.public),
    vulnerability_scanning: bool(p.metadata?.auto_scan),
    enable_content_trust: bool(p.metadata?.enable_content_trust),
    enable_content_trust_cosign: bool(p.metadata?.enable_content_trust_cosign),
    auto_sbom_generation: bool(p.metadata?.auto_sbom_generation),
    deployment_security: driftSecurity ? '' : severity,
    proxy_speed_kb: p.metadata?.proxy_speed_kb ? Number(p.metadata.proxy_speed_kb) : -1,
    proxy_cache_local_on_not_found: bool(p.metadata?.proxy_cache_local_on_not_found),
    cve_allowlist: (p.cve_allowlist?.items ?? []).map((i: any) => i.cve_id),
  };
}

/** resource "harbor_project" "main" { name = "tf-main" } (a helper for the resources that live in a project). */
async function project(t: Test, name: string): Promise<{ id: string; projectId: number }> {
  const created = await tf.send(t, 'POST', '/projects', { body: projectBody(name), expect: 201 });
  const id = providerId(created);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  return { id, projectId: read.json.project_id };
}

t.test('harbor_project: create, read, update (public, scanning, deployment_security, cve_allowlist), read, destroy', async (t) => {
  const created = await tf.send(t, 'POST', '/projects', { body: projectBody('tf-project'), expect: 201 });
  const id = providerId(created);
  t.match(id, /^\/projects\/\d+$/, 'd.Id() from the Location header is /projects/<id>');
  const first = await tf.send(t, 'GET', id, { expect: 200 });
  t.same(projectState(first.json), {
    name: 'tf-project', public: false, vulnerability_scanning: true, enable_content_trust: false, enable_content_trust_cosign: false,
    auto_sbom_generation: false, deployment_security: '', proxy_speed_kb: -1, proxy_cache_local_on_not_found: false, cve_allowlist: [],
  }, 'the state after create equals the configuration (no diff)');
  t.equal(first.json.registry_id ?? 0, 0, 'not a proxy-cache project: registry_id 0 or unset');

  // public = true, vulnerability_scanning = false, deployment_security = "high", cve_allowlist = ["CVE-2024-0001"]
  const update = projectBody('tf-project', { public: true, vulnerabilityScanning: false, deploymentSecurity: 'high', cves: ['CVE-2024-0001'] });
  await tf.send(t, 'PUT', id, { body: update, expect: 200 });
  // UpdateStorageQuota first reads the configuration (quota_per_project_enable)
  const config = await tf.send(t, 'GET', '/configurations', { expect: 200 });
  t.type(config.json.quota_per_project_enable?.value, 'boolean', 'quota_per_project_enable.value is what UpdateStorageQuota reads');
  const second = await tf.send(t, 'GET', id, { expect: 200 });
  t.same(projectState(second.json), {
    name: 'tf-project', public: true, vulnerability_scanning: false, enable_content_trust: false, enable_content_trust_cosign: false,
    auto_sbom_generation: false, deployment_security: 'high', proxy_speed_kb: -1, proxy_cache_local_on_not_found: false, cve_allowlist: ['CVE-2024-0001'],
  }, 'the state after update equals the new configuration');

  // destroy without force_destroy: the repositories are listed first, and must be none
  const repos = await tf.send(t, 'GET', '/projects/tf-project/repositories?page=1&page_size=100', { expect: 200 });
  t.same(repos.json, [], 'an empty project lists no repositories');
  await tf.send(t, 'DELETE', id, { expect: 200 });
  await tf.send(t, 'GET', id, GONE); // the provider then drops it from the state
});

t.test('harbor_project with cve_allowlist at create: POST, then the PUT the provider sends to add the list', async (t) => {
  const body = projectBody('tf-cves', { cves: ['CVE-2023-1111', 'CVE-2023-2222'] });
  const created = await tf.send(t, 'POST', '/projects', { body, expect: 201 });
  const id = providerId(created);
  await tf.send(t, 'PUT', id, { body, expect: 200 });
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  t.same(projectState(read.json).cve_allowlist, ['CVE-2023-1111', 'CVE-2023-2222']);
  await tf.send(t, 'DELETE', id, { expect: 200 });
});

t.test('harbor_project force_destroy: repositories (nested names sent as %252F) deleted, then the project', async (t) => {
  const { id } = await project(t, 'tf-force');
  t.equal(await pushImage(berth.url, 'tf-force/app', 'v1', basic(admin)), 201);
  t.equal(await pushImage(berth.url, 'tf-force/team/api', 'v1', basic(admin)), 201);
  const page1 = await tf.send(t, 'GET', '/projects/tf-force/repositories?page=1&page_size=100', { expect: 200 });
  t.same(page1.json.map((r: any) => r.name).sort(), ['tf-force/app', 'tf-force/team/api']);
  const page2 = await tf.send(t, 'GET', '/projects/tf-force/repositories?page=2&page_size=100', { expect: 200 });
  t.same(page2.json, [], 'the page after the last is empty, which ends the provider\'s loop');
  for (const r of page1.json as { name: string }[]) {
    const name = r.name.slice('tf-force/'.length).replaceAll('/', '%252F');
    await tf.send(t, 'DELETE', `/projects/tf-force/repositories/${name}`, { expect: 200, template: '/projects/{project_name}/repositories/{repository_name}' });
  }
  const left = await tf.send(t, 'GET', '/projects/tf-force/repositories?page=1&page_size=100', { expect: 200 });
  t.same(left.json, [], 'every repository went');
  await tf.send(t, 'DELETE', id, { expect: 200 });
});

t.test('harbor_project as a proxy cache (registry_id, proxy_speed_kb, proxy_cache_local_on_not_found): create, read, destroy', async (t) => {
  const reg = await tf.send(t, 'POST', '/registries', { body: { credential: { access_key: 'admin', access_secret: ADMIN_PASSWORD, type: 'basic' }, name: 'tf-upstream', url: berth.url, type: 'docker-registry' }, expect: 201 });
  const registryId = Number(providerId(reg).split('/').pop());
  // registry_id = harbor_registry.upstream.registry_id, proxy_speed_kb = 1000, proxy_cache_local_on_not_found = true
  const body = projectBody('tf-proxy');
  const created = await tf.send(t, 'POST', '/projects', { body: { ...body, registry_id: registryId, metadata: { ...body.metadata, proxy_speed_kb: '1000', proxy_cache_local_on_not_found: 'true' } }, expect: 201 });
  const id = providerId(created);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  t.equal(read.json.registry_id, registryId, 'registry_id read back (ForceNew: a difference would recreate the project)');
  t.same({ speed: projectState(read.json).proxy_speed_kb, local: projectState(read.json).proxy_cache_local_on_not_found }, { speed: 1000, local: true });
  await tf.send(t, 'DELETE', id, { expect: 200 });
  await tf.send(t, 'DELETE', providerId(reg), { expect: 200 });
});

t.test('harbor_project_member_user: create, read, update role, read, destroy', async (t) => {
  const { id: projectId, projectId: pid } = await project(t, 'tf-members');
  // resource "harbor_user" the member is (created as the provider does, see its own test below)
  const user = await tf.send(t, 'POST', '/users', { body: { username: 'tf-member', password: 'Member-pass-1', realname: 'Member', email: 'tf-member@example.test', new_password: 'Member-pass-1' }, expect: 201 });
  t.ok(user.headers.get('location'));
  // project_id = harbor_project.main.id ("/projects/<id>"), user_name, role = "developer"
  const body = (role: number) => ({ role_id: role, member_group: {}, member_user: { username: 'tf-member' } });
  const created = await tf.send(t, 'POST', `${projectId}/members`, { body: body(2), expect: 201 });
  const id = providerId(created);
  t.match(id, new RegExp(`^${projectId}/members/\\d+$`));
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  t.same({ role: read.json.role_id, project: `/projects/${read.json.project_id}`, user: read.json.entity_name }, { role: 2, project: `/projects/${pid}`, user: 'tf-member' }, 'role developer, project and user as configured');
  // role = "maintainer"
  await tf.send(t, 'PUT', id, { body: body(4), expect: 200 });
  const again = await tf.send(t, 'GET', id, { expect: 200 });
  t.equal(again.json.role_id, 4, 'role maintainer read back');
  await tf.send(t, 'DELETE', id, { expect: 200 });
  await tf.send(t, 'GET', id, GONE);
  await tf.send(t, 'DELETE', projectId, { expect: 200 });
});

/** resourceRobotAccountRead's permissions: kind, namespace, and the access set (effect only when not "allow"). */
function robotPermissions(r: any) {
  return (r.permissions as any[]).map((p) => ({
    kind: p.kind,
    namespace: p.namespace,
    access: (p.access as any[]).map((a) => ({ action: a.action, resource: a.resource, ...(a.effect && a.effect !== 'allow' && { effect: a.effect }) }))
      .sort((x, y) => `${x.resource}:${x.action}`.localeCompare(`${y.resource}:${y.action}`)),
  }));
}

t.test('harbor_robot_account (project level): create, read, update with the full name and a new secret, read, destroy', async (t) => {
  const { id: projectId } = await project(t, 'tf-robots');
  // name = "ci", level = "project", permissions { kind = "project", namespace = "tf-robots", access {pull, push repository} }
  const permissions = [{ access: [{ action: 'pull', resource: 'repository' }, { action: 'push', resource: 'repository' }], kind: 'project', namespace: 'tf-robots' }];
  const created = await tf.send(t, 'POST', '/robots', { body: { name: 'ci', level: 'project', duration: -1, permissions }, expect: 201 });
  t.type(created.json?.id, 'number', 'the answer has the id');
  t.type(created.json?.secret, 'string', 'and the generated secret, kept in the state');
  const id = providerId(created);
  t.equal(id, `/robots/${created.json.id}`);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  const shortName = String(read.json.name).split(`${read.json.permissions[0].namespace}+`)[1];
  t.same({ name: shortName, description: read.json.description ?? '', level: read.json.level, duration: read.json.duration, disable: read.json.disable },
    { name: 'ci', description: '', level: 'project', duration: -1, disable: false }, 'state equals the configuration');
  t.same(robotPermissions(read.json), permissions, 'the permissions read back as configured');

  // description = "CI robot", access adds delete artifact, secret = "Robot-Secret-123"
  const updatedPermissions = [{ access: [...permissions[0]!.access, { action: 'delete', resource: 'artifact' }], kind: 'project', namespace: 'tf-robots' }];
  const current = await tf.send(t, 'GET', id, { expect: 200 });
  await tf.send(t, 'PUT', id, { body: { name: current.json.name, level: 'project', description: 'CI robot', duration: -1, permissions: updatedPermissions }, expect: 200 });
  await tf.send(t, 'PATCH', id, { body: { secret: 'Robot-Secret-123' }, expect: 200 });
  const after = await tf.send(t, 'GET', id, { expect: 200 });
  t.equal(after.json.description, 'CI robot');
  t.same(robotPermissions(after.json), [{ ...updatedPermissions[0]!, access: [...updatedPermissions[0]!.access].sort((x, y) => `${x.resource}:${x.action}`.localeCompare(`${y.resource}:${y.action}`)) }]);
  const login = await tokenReply(berth.url, { username: after.json.name, password: 'Robot-Secret-123' }, ['repository:tf-robots/app:pull']);
  t.equal(login.status, 200, 'the secret the provider set is the robot\'s password');
  await tf.send(t, 'DELETE', id, { expect: 200 });
  await tf.send(t, 'GET', id, GONE);
  await tf.send(t, 'DELETE', projectId, { expect: 200 });
});

t.test('harbor_robot_account (system level): the short name comes from the configured robot_name_prefix', async (t) => {
  await project(t, 'tf-sysrobots');
  const permissions = [
    { access: [{ action: 'pull', resource: 'repository' }], kind: 'project', namespace: 'tf-sysrobots' },
    { access: [{ action: 'list', resource: 'project' }], kind: 'system', namespace: '/' },
  ];
  const created = await tf.send(t, 'POST', '/robots', { body: { name: 'sys', level: 'system', description: 'system robot', duration: 30, permissions }, expect: 201 });
  const id = providerId(created);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  const config = await tf.send(t, 'GET', '/configurations', { expect: 200 });
  const prefix = config.json.robot_name_prefix?.value;
  t.type(prefix, 'string', 'robot_name_prefix.value is in the configuration');
  t.equal(String(read.json.name).startsWith(prefix) ? String(read.json.name).slice(prefix.length) : read.json.name, 'sys', 'name minus the prefix is the configured name');
  t.same({ level: read.json.level, duration: read.json.duration, description: read.json.description }, { level: 'system', duration: 30, description: 'system robot' });
  const byKind = (p: any[]) => [...p].sort((a, b) => a.kind.localeCompare(b.kind));
  t.same(byKind(robotPermissions(read.json)), byKind(permissions), 'both permissions read back');
  // disable = true
  await tf.send(t, 'PUT', id, { body: { name: read.json.name, level: 'system', description: 'system robot', duration: 30, disable: true, permissions }, expect: 200 });
  const after = await tf.send(t, 'GET', id, { expect: 200 });
  t.equal(after.json.disable, true, 'disable read back');
  await tf.send(t, 'DELETE', id, { expect: 200 });
});

t.test('harbor_user: create, read, update (admin, full_name, password), read, destroy', async (t) => {
  const body = { username: 'tf-user', password: 'First-pass-1', realname: 'TF User', email: 'tf-user@example.test', new_password: 'First-pass-1' };
  const created = await tf.send(t, 'POST', '/users', { body, expect: 201 });
  const id = providerId(created);
  t.match(id, /^\/users\/\d+$/);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  t.same({ username: read.json.username, full_name: read.json.realname, email: read.json.email, admin: read.json.sysadmin_flag ?? false, comment: read.json.comment ?? '' },
    { username: 'tf-user', full_name: 'TF User', email: 'tf-user@example.test', admin: false, comment: '' }, 'state equals the configuration');

  // admin = true, full_name = "TF Admin", password = "Second-pass-2": the same body to three endpoints
  const update = { username: 'tf-user', password: 'Second-pass-2', realname: 'TF Admin', sysadmin_flag: true, email: 'tf-user@example.test', new_password: 'Second-pass-2' };
  await tf.send(t, 'PUT', id, { body: update, expect: 200 });
  await tf.send(t, 'PUT', `${id}/sysadmin`, { body: update, expect: 200 });
  await tf.send(t, 'PUT', `${id}/password`, { body: update, expect: 200 });
  const after = await tf.send(t, 'GET', id, { expect: 200 });
  t.same({ full_name: after.json.realname, admin: after.json.sysadmin_flag }, { full_name: 'TF Admin', admin: true });
  t.equal((await tokenReply(berth.url, { username: 'tf-user', password: 'Second-pass-2' }, [])).status, 200, 'the new password logs in');
  t.equal((await tokenReply(berth.url, { username: 'tf-user', password: 'First-pass-1' }, [])).status, 401, 'the old one does not');
  await tf.send(t, 'DELETE', id, { expect: 200 });
  await tf.send(t, 'GET', id, GONE);
});

t.test('harbor_registry: create, read, update (description, insecure), read, destroy', async (t) => {
  // provider_name = "docker-registry", endpoint_url = Berth itself, access_id/access_secret
  const body = { credential: { access_key: 'admin', access_secret: ADMIN_PASSWORD, type: 'basic' }, name: 'tf-registry', url: berth.url, type: 'docker-registry' };
  const created = await tf.send(t, 'POST', '/registries', { body, expect: 201 });
  const id = providerId(created);
  t.match(id, /^\/registries\/\d+$/);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  t.same({ name: read.json.name, description: read.json.description ?? '', endpoint_url: read.json.url, access_id: read.json.credential?.access_key, insecure: read.json.insecure ?? false, ca_certificate: read.json.ca_certificate ?? '', provider: read.json.type },
    { name: 'tf-registry', description: '', endpoint_url: berth.url, access_id: 'admin', insecure: false, ca_certificate: '', provider: 'docker-registry' }, 'state equals the configuration');
  t.type(read.json.status, 'string', 'status is set in the state');

  // description = "mirror", insecure = true: GetRegistryUpdateBody (access_key, access_secret, insecure, description, ca_certificate always sent)
  await tf.send(t, 'PUT', id, { body: { access_key: 'admin', name: 'tf-registry', access_secret: ADMIN_PASSWORD, url: berth.url, insecure: true, description: 'mirror', ca_certificate: '' }, expect: 200 });
  const after = await tf.send(t, 'GET', id, { expect: 200 });
  t.same({ description: after.json.description, insecure: after.json.insecure, access_id: after.json.credential?.access_key, ca_certificate: after.json.ca_certificate ?? '' },
    { description: 'mirror', insecure: true, access_id: 'admin', ca_certificate: '' });
  await tf.send(t, 'DELETE', id, { expect: 200 });
  await tf.send(t, 'GET', id, GONE);
});

t.test('harbor_registry with ca_certificate: kept, read back, and trusted for that endpoint only', async (t) => {
  const tls = await startTlsRegistry(t, { password: 'Tls-admin-1', robot: 'tf-puller' });
  const pem = tls.ca.cert.toString();
  // endpoint_url = "https://<tls registry>", ca_certificate = file("ca.crt")
  const body = { credential: { access_key: tls.robot.name, access_secret: tls.robot.secret, type: 'basic' }, name: 'tf-tls', url: `https://${tls.registry}`, type: 'docker-registry', ca_certificate: pem };
  const created = await tf.send(t, 'POST', '/registries', { body, expect: 201 });
  const id = providerId(created);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  t.equal(read.json.ca_certificate, pem, 'ca_certificate read back as configured');
  const registryId = Number(id.split('/').pop());
  t.equal((await tf.send(t, 'POST', '/registries/ping', { body: { id: registryId } })).status, 200, 'the registry\'s certificate verifies against its CA');
  // ca_certificate removed from the configuration: the update sends ""
  await tf.send(t, 'PUT', id, { body: { access_key: tls.robot.name, name: 'tf-tls', access_secret: tls.robot.secret, url: `https://${tls.registry}`, insecure: false, description: '', ca_certificate: '' }, expect: 200 });
  const after = await tf.send(t, 'GET', id, { expect: 200 });
  t.equal(after.json.ca_certificate ?? '', '', 'gone');
  t.equal((await tf.send(t, 'POST', '/registries/ping', { body: { id: registryId } })).status, 400, 'and the certificate is untrusted again');
  t.equal((await tf.send(t, 'POST', '/registries', { body: { ...body, name: 'tf-bad-ca', ca_certificate: 'not a certificate' } })).status, 400, 'a ca_certificate that is no PEM certificate: 400, as Harbor');
  await tf.send(t, 'DELETE', id, { expect: 200 });
});

/** resourceReplicationRead's view of a policy. */
function replicationState(p: any) {
  const dest = p.dest_registry?.id ?? 0;
  const trigger = p.trigger?.type;
  return {
    action: dest === 0 ? 'pull' : 'push',
    registry_id: dest === 0 ? p.src_registry?.id ?? 0 : dest,
    schedule: trigger === 'scheduled' ? p.trigger?.trigger_settings?.cron ?? '' : trigger === 'event_based' ? 'event_based' : 'manual',
    enabled: p.enabled ?? false,
    name: p.name,
    deletion: p.deletion ?? false,
    override: p.override ?? false,
    dest_namespace: p.dest_namespace ?? '',
    dest_namespace_replace: p.dest_namespace_replace_count ?? 0,
    copy_by_chunk: p.copy_by_chunk ?? false,
    single_active_replication: p.single_active_replication ?? false,
  };
}

t.test('harbor_replication (push, then pull): create, read, update (schedule, deletion, dest_namespace), read, execute_on_changed, destroy', async (t) => {
  await project(t, 'tf-repl');
  const reg = await tf.send(t, 'POST', '/registries', { body: { credential: { access_key: 'admin', access_secret: ADMIN_PASSWORD, type: 'basic' }, name: 'tf-repl-target', url: berth.url, type: 'docker-registry' }, expect: 201 });
  const registryId = Number(providerId(reg).split('/').pop());
  // action = "push", registry_id, filters { name = "tf-repl/**" } filters { tag = "v*" } (schedule "manual", override true, speed -1)
  const push = {
    name: 'tf-push', id: 0, src_registry: {}, dest_registry: { id: registryId }, dest_namespace_replace_count: 0,
    trigger: { type: 'manual', trigger_settings: {} }, enabled: true, override: true,
    filters: [{ type: 'name', value: 'tf-repl/**' }, { type: 'tag', value: 'v*' }], speed: -1,
  };
  const created = await tf.send(t, 'POST', '/replication/policies', { body: push, expect: 201 });
  const id = providerId(created);
  t.match(id, /^\/replication\/policies\/\d+$/);
  const read = await tf.send(t, 'GET', id, { expect: 200 });
  t.same(replicationState(read.json), {
    action: 'push', registry_id: registryId, schedule: 'manual', enabled: true, name: 'tf-push', deletion: false, override: true,
    dest_namespace: '', dest_namespace_replace: 0, copy_by_chunk: false, single_active_replication: false,
  }, 'state equals the configuration');

  // schedule = "0 0 0 * * *", deletion = true, dest_namespace = "mirror", dest_namespace_replace = 1, execute_on_changed = true
  const update = { ...push, trigger: { type: 'scheduled', trigger_settings: { cron: '0 0 0 * * *' } }, deletion: true, dest_namespace: 'mirror', dest_namespace_replace_count: 1 };
  await tf.send(t, 'PUT', id, { body: update, expect: 200 });
  const policyId = Number(id.split('/').pop());
  await tf.send(t, 'POST', '/replication/executions', { body: { policy_id: policyId }, expect: 201 });
  const after = await tf.send(t, 'GET', id, { expect: 200 });
  t.same(replicationState(after.json), {
    action: 'push', registry_id: registryId, schedule: '0 0 0 * * *', enabled: true, name: 'tf-push', deletion: true, override: true,
    dest_namespace: 'mirror', dest_namespace_replace: 1, copy_by_chunk: false, single_active_replication: false,
  }, 'state equals the updated configuration');

  // action = "pull" from the same registry, schedule = "event_based" is push-only in Harbor, so manual
  const pull = { name: 'tf-pull', id: 0, src_registry: { id: registryId }, dest_registry: {}, dest_namespace: 'tf-repl', dest_namespace_replace_count: 0, trigger: { type: 'manual', trigger_settings: {} }, enabled: true, override: true, filters: [{ type: 'name', value: 'tf-repl/app' }], speed: -1 };
  const pulled = await tf.send(t, 'POST', '/replication/policies', { body: pull, expect: 201 });
  const pullId = providerId(pulled);
  const pullRead = await tf.send(t, 'GET', pullId, { expect: 200 });
  t.same({ action: replicationState(pullRead.json).action, registry_id: replicationState(pullRead.json).registry_id }, { action: 'pull', registry_id: registryId }, 'a pull policy reads back as pull from the registry');

  // single_active_replication = true (what a start during a run does: test/replication/single-active.test.ts)
  const single = { ...push, name: 'tf-single', single_active_replication: true };
  const singleId = providerId(await tf.send(t, 'POST', '/replication/policies', { body: single, expect: 201 }));
  const singleRead = await tf.send(t, 'GET', singleId, { expect: 200 });
  t.equal(replicationState(singleRead.json).single_active_replication, true, 'single_active_replication read back');
  const singlePolicy = Number(singleId.split('/').pop());

  await tf.send(t, 'DELETE', pullId, { expect: 200 });
  // replications started above may still run; the provider's DELETE wants 200
  for (let i = 0; i < 50; i++) {
    const runs = await tf.send(t, 'GET', `/replication/executions?policy_id=${policyId}`);
    const singles = await tf.send(t, 'GET', `/replication/executions?policy_id=${singlePolicy}`);
    if (![...runs.json, ...singles.json].some((e: any) => e.status === 'InProgress')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await tf.send(t, 'DELETE', id, { expect: 200 });
  await tf.send(t, 'DELETE', singleId, { expect: 200 });
  await tf.send(t, 'GET', id, GONE);
});
