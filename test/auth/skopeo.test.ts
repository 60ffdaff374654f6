// What a new user does, with the real client: a registry started with only BERTH_ADMIN_PASSWORD, users and
// projects made through /api/v2.0, members added with role ids, then skopeo pushes and pulls with credentials.
// Every allow and deny must match the matrix; robots push only where their permissions say; the audit log
// shows who pushed.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { image, writeOciLayout } from '../helpers/oci-fixtures.js';
import { admin, AdminApi, basic, startTokenBerth, type Creds } from './access.js';

const run = promisify(execFile);
const berth = await startTokenBerth(t);
const host = `127.0.0.1:${berth.port}`;
const root = new AdminApi(berth.url, admin);

const work = await mkdtemp(join(tmpdir(), 'berth-auth-skopeo-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const authfile = join(work, 'auth.json');
const policy = join(work, 'policy.json');
const registriesConf = join(work, 'registries.conf');
await writeFile(authfile, JSON.stringify({ auths: {} }));
await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
await writeFile(registriesConf, 'unqualified-search-registries = []\n');
const env = { ...process.env, CONTAINERS_REGISTRIES_CONF: registriesConf, REGISTRY_AUTH_FILE: authfile };

const app = image({ layers: 2, layerSize: 50_000 });
const src = join(work, 'src');
await writeOciLayout(src, [{ tag: 'v1', image: app }]);

interface Outcome {
  ok: boolean;
  stderr: string;
}

async function skopeo(args: string[]): Promise<Outcome> {
  try {
    await run('/usr/bin/skopeo', ['--policy', policy, ...args], { env, timeout: 120_000 });
    return { ok: true, stderr: '' };
  } catch (e) {
    return { ok: false, stderr: (e as { stderr?: string }).stderr ?? String(e) };
  }
}

const credArg = (c: Creds | undefined, side: 'src' | 'dest') => (c ? [`--${side}-creds`, `${c.username}:${c.password}`] : [`--${side}-no-creds`]);

async function push(who: Creds | undefined, ref: string): Promise<Outcome> {
  // skopeo remembers where it saw each blob and would mount instead of uploading: start every push afresh.
  await rm('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  return skopeo(['copy', '--dest-tls-verify=false', ...credArg(who, 'dest'), `oci:${src}:v1`, `docker://${host}/${ref}`]);
}

let pulls = 0;
async function pull(who: Creds | undefined, ref: string): Promise<Outcome> {
  const dest = join(work, `pulled-${pulls++}`);
  const out = await skopeo(['copy', '--src-tls-verify=false', ...credArg(who, 'src'), `docker://${host}/${ref}`, `oci:${dest}:v1`]);
  if (out.ok) {
    const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    if (index.manifests[0]?.digest !== app.manifest.digest) return { ok: false, stderr: 'pulled a different manifest' };
  }
  return out;
}

async function tags(repo: string): Promise<string[]> {
  const r = await fetch(`${berth.url}/v2/${repo}/tags/list`, { headers: { Authorization: basic(admin) } });
  return r.status === 200 ? (((await r.json()) as { tags: string[] }).tags ?? []) : [];
}

// The new user's setup, all through the admin API.
const alice: Creds = { username: 'alice', password: 'Alice-pass-1' }; // developer in team-priv
const bob: Creds = { username: 'bob', password: 'Bob-pass-1' }; // guest in team-priv
const carol: Creds = { username: 'carol', password: 'Carol-pass-1' }; // no role anywhere
for (const u of [alice, bob, carol]) await root.createUser(u.username, u.password);
await root.createProject('team-priv', false);
await root.createProject('team-pub', true);
await root.addMember('team-priv', 'alice', 2);
await root.addMember('team-priv', 'bob', 3);

t.test('a developer pushes; a guest pulls but may not push; an outsider gets nothing private', async (t) => {
  const pushed = await push(alice, 'team-priv/app:v1');
  t.ok(pushed.ok, `alice (developer) pushes: ${pushed.stderr}`);
  t.same(await tags('team-priv/app'), ['v1']);

  const refused = await push(bob, 'team-priv/app:bob');
  t.notOk(refused.ok, 'bob (guest) may not push');
  t.match(refused.stderr, /denied|unauthorized/i);
  t.same(await tags('team-priv/app'), ['v1'], 'nothing was tagged');

  t.ok((await pull(bob, 'team-priv/app:v1')).ok, 'bob (guest) pulls');
  t.notOk((await pull(carol, 'team-priv/app:v1')).ok, 'carol (no role) may not pull a private project');
  t.notOk((await pull(undefined, 'team-priv/app:v1')).ok, 'nor may anonymous');
  t.notOk((await push(carol, 'team-priv/app:carol')).ok, 'carol may not push');
});

t.test('a public project: anyone pulls, only members push', async (t) => {
  t.ok((await push(admin, 'team-pub/base:v1')).ok, 'the system admin pushes anywhere');
  t.ok((await pull(undefined, 'team-pub/base:v1')).ok, 'anonymous pulls from a public project');
  t.ok((await pull(carol, 'team-pub/base:v1')).ok, 'so does a signed-in non-member');
  t.notOk((await push(carol, 'team-pub/base:carol')).ok, 'a non-member may not push there');
  t.notOk((await push(undefined, 'team-pub/base:anon')).ok, 'nor may anonymous');
  t.same(await tags('team-pub/base'), ['v1']);
});

t.test('a project that does not exist refuses the push, whoever asks', async (t) => {
  const out = await push(admin, 'no-such-project/app:v1');
  t.notOk(out.ok);
  t.match(out.stderr, /denied|403/i);
  t.match(out.stderr, /denied: project no-such-project does not exist/, 'skopeo prints the reason (its first request is a HEAD)');
  t.same(await tags('no-such-project/app'), []);
});

t.test('robots push only where their permissions say', async (t) => {
  const ci = await root.createRobot({
    name: 'ci',
    level: 'project',
    duration: 30,
    permissions: [{ kind: 'project', namespace: 'team-priv', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push' }] }],
  });
  t.equal(ci.name, 'robot$team-priv+ci');
  const reader = await root.createRobot({
    name: 'reader',
    level: 'project',
    duration: -1,
    permissions: [{ kind: 'project', namespace: 'team-priv', access: [{ resource: 'repository', action: 'pull' }] }],
  });
  const ciCreds = { username: ci.name, password: ci.secret };
  const readerCreds = { username: reader.name, password: reader.secret };

  t.ok((await push(ciCreds, 'team-priv/built:v1')).ok, 'the CI robot pushes into its project');
  t.notOk((await push(ciCreds, 'team-pub/built:v1')).ok, 'but not into another project');
  t.ok((await pull(readerCreds, 'team-priv/built:v1')).ok, 'the pull-only robot pulls');
  t.notOk((await push(readerCreds, 'team-priv/built:reader')).ok, 'and may not push');
  t.same(await tags('team-priv/built'), ['v1']);

  t.equal((await root.put(`/robots/${ci.id}`, { disable: true })).status, 200);
  t.notOk((await push(ciCreds, 'team-priv/built:v2')).ok, 'a disabled robot is refused');
  t.equal((await root.put(`/robots/${ci.id}`, { disable: false })).status, 200);
  const refreshed = await root.call('PATCH', `/robots/${ci.id}`, {});
  t.equal(refreshed.status, 200);
  t.notOk((await push(ciCreds, 'team-priv/built:v2')).ok, 'the old secret stops working after a refresh');
  t.ok((await push({ username: ci.name, password: refreshed.json.secret }, 'team-priv/built:v2')).ok, 'the new one works');

  const everywhere = await root.createRobot({
    name: 'mirror',
    level: 'system',
    duration: -1,
    permissions: [{ kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] }],
  });
  t.equal(everywhere.name, 'robot$mirror');
  t.ok((await pull({ username: everywhere.name, password: everywhere.secret }, 'team-priv/app:v1')).ok, 'a system robot with namespace * pulls from every project');
});

t.test('the audit log shows who pushed and pulled', async (t) => {
  const q = (query: string) => root.get(`/audit-logs?page_size=100&q=${encodeURIComponent(query)}`);
  const pushes = await q('operation=push');
  t.equal(pushes.status, 200);
  const who = new Set(pushes.json.map((e: { username: string; resource: string }) => `${e.username} ${e.resource}`));
  t.ok(who.has('alice team-priv/app:v1'), 'alice pushed team-priv/app:v1');
  t.ok(who.has('admin team-pub/base:v1'));
  t.ok(who.has('robot$team-priv+ci team-priv/built:v1'), 'the robot is named');
  t.notOk([...who].some((w) => String(w).startsWith('bob ') || String(w).startsWith('carol ')), 'refused pushes are not recorded as pushes');
  t.match(pushes.json[0], { operation: 'push', resource_type: 'artifact', client_ip: /127\.0\.0\.1/, op_time: /^\d{4}-\d\d-\d\dT/ });
  const bobPulls = await q('operation=pull,username=bob');
  t.ok(bobPulls.json.length >= 1, "bob's pull is there");
  t.equal(bobPulls.json[0].resource, 'team-priv/app:v1');
  const fuzzy = await q('resource=~built');
  t.ok(fuzzy.json.length >= 3 && fuzzy.json.every((e: { resource: string }) => e.resource.includes('built')));
});
