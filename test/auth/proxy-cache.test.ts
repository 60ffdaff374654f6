// Proxy-cache projects, as a team mirroring a registry uses them: a project created with registry_id pointing at
// CNCF distribution; skopeo pulls through Berth what Berth never had, Berth caches it, the upstream goes down and
// the same pulls still work; a tag moved upstream is seen once the TTL passed; pushes into the project are refused.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { freePort } from '../helpers/berth-process.js';
import { startDockerRegistry, waitFor, type DockerRegistry } from '../helpers/idc.js';
import { image, multiArch, writeOciLayout } from '../helpers/oci-fixtures.js';
import { admin, AdminApi, basic, startTokenBerth, type Creds } from './access.js';

const run = promisify(execFile);
const work = await mkdtemp(join(tmpdir(), 'berth-proxy-cache-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const policy = join(work, 'policy.json');
await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));

async function skopeo(args: string[]): Promise<{ ok: boolean; stderr: string }> {
  await rm('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  try {
    await run('/usr/bin/skopeo', ['--policy', policy, ...args], { timeout: 120_000 });
    return { ok: true, stderr: '' };
  } catch (e) {
    return { ok: false, stderr: (e as { stderr?: string }).stderr ?? String(e) };
  }
}

// The upstream: distribution on a fixed port and data directory, so it can be stopped and started again.
const upstreamPort = await freePort();
const upstreamData = await mkdtemp(join(tmpdir(), 'berth-proxy-upstream-'));
t.teardown(() => rm(upstreamData, { recursive: true, force: true }));
let upstream: DockerRegistry | undefined = await startDockerRegistry({ port: upstreamPort, dataDir: upstreamData });
t.teardown(async () => upstream?.stop());

const app = image({ layers: 3, layerSize: 200_000 });
const platforms = multiArch('oci');
const moved = image({ layers: 1, layerSize: 10_000 });
const src = join(work, 'src');
await writeOciLayout(src, [
  { tag: 'v1', image: app },
  { tag: 'multi', image: platforms },
  { tag: 'moved', image: moved },
]);
const up = (tag: string, repo = 'lib/app') => `docker://127.0.0.1:${upstreamPort}/${repo}:${tag}`;
for (const [tag, all] of [['v1', false], ['multi', true]] as const) {
  const r = await skopeo(['copy', ...(all ? ['--all'] : []), '--dest-tls-verify=false', `oci:${src}:${tag}`, up(tag)]);
  if (!r.ok) throw new Error(`fixture push: ${r.stderr}`);
}

const berth = await startTokenBerth(t, { BERTH_PROXY_CACHE_TTL_SECONDS: '1' });
const root = new AdminApi(berth.url, admin);
const host = `127.0.0.1:${berth.port}`;
const creds = (c: Creds, side: 'src' | 'dest') => [`--${side}-creds`, `${c.username}:${c.password}`, `--${side}-tls-verify=false`];

let pulls = 0;
async function pull(ref: string, all = false): Promise<{ ok: boolean; stderr: string; digest?: string }> {
  const dest = join(work, `pulled-${pulls++}`);
  const r = await skopeo(['copy', ...(all ? ['--all'] : []), ...creds(admin, 'src'), `docker://${host}/${ref}`, `oci:${dest}:x`]);
  if (!r.ok) return r;
  const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  return { ...r, digest: index.manifests[0]!.digest };
}

async function cachedDigest(repo: string, tag: string): Promise<string | undefined> {
  // The registry's own view (not the proxy path): the tag as stored in this project.
  const r = await root.get(`/projects/hub/repositories/${encodeURIComponent(repo)}`);
  if (r.status !== 200) return undefined;
  const res = await fetch(`${berth.url}/api/v2.0/berth/replication/tags?repository=${encodeURIComponent(`hub/${repo}`)}`, { headers: { Authorization: basic(admin) } });
  if (res.status !== 200) return undefined;
  const body = (await res.json()) as { tags: { name: string; digest: string | null }[] };
  return body.tags.find((x) => x.name === tag)?.digest ?? undefined;
}

t.test('a project names an existing registry endpoint', async (t) => {
  const bad = await root.post('/projects', { project_name: 'nowhere', registry_id: 999, metadata: { public: 'false' } });
  t.equal(bad.status, 400, 'an unknown registry_id is refused');
  t.match(bad.json, { errors: [{ code: 'BAD_REQUEST', message: /registry 999 not found/ }] });

  const reg = await root.post('/registries', { name: 'distribution', type: 'docker-registry', url: upstream!.url, insecure: true });
  t.equal(reg.status, 201, reg.text);
  const regId = Number(reg.headers.get('location')!.split('/').pop());
  const made = await root.post('/projects', { project_name: 'hub', registry_id: regId, metadata: { public: 'false' } });
  t.equal(made.status, 201, made.text);
  const read = await root.get('/projects/hub');
  t.equal(read.json.registry_id, regId, 'the project reads back as a proxy cache of that endpoint');
});

t.test('a pull of what Berth never had comes from the upstream and is cached', async (t) => {
  const first = await pull('hub/lib/app:v1');
  t.ok(first.ok, first.stderr);
  t.equal(first.digest, app.manifest.digest, 'the upstream image, byte for byte');
  await waitFor(async () => (await cachedDigest('lib/app', 'v1')) === app.manifest.digest, 20_000);
  t.pass('the manifest is stored and tagged in the project once its blobs are');

  const all = await pull('hub/lib/app:multi', true);
  t.ok(all.ok, all.stderr);
  t.equal(all.digest, platforms.manifest.digest, 'an index and every platform come through');
  await waitFor(async () => (await cachedDigest('lib/app', 'multi')) === platforms.manifest.digest, 20_000);

  const missing = await pull('hub/lib/app:nope');
  t.notOk(missing.ok, 'a tag neither side has fails');
  t.match(missing.stderr, /manifest unknown|not found/i);
});

t.test('with the upstream down, cached content is still served', async (t) => {
  await upstream!.stop();
  upstream = undefined;
  await new Promise((r) => setTimeout(r, 1100)); // past the TTL: Berth asks the upstream, which is gone.
  const again = await pull('hub/lib/app:v1');
  t.ok(again.ok, again.stderr);
  t.equal(again.digest, app.manifest.digest);
  const index = await pull('hub/lib/app:multi', true);
  t.ok(index.ok, index.stderr);
  const never = await pull('hub/lib/app:moved');
  t.notOk(never.ok, 'what was never cached cannot be served without the upstream');
  t.match(never.stderr, /cannot be reached|unavailable/i, `a readable reason: ${never.stderr.slice(-200)}`);
});

t.test('a tag moved upstream is followed once the TTL has passed', async (t) => {
  upstream = await startDockerRegistry({ port: upstreamPort, dataDir: upstreamData });
  const r = await skopeo(['copy', '--dest-tls-verify=false', `oci:${src}:moved`, up('v1')]);
  t.ok(r.ok, r.stderr);
  await new Promise((r) => setTimeout(r, 1100));
  const now = await pull('hub/lib/app:v1');
  t.ok(now.ok, now.stderr);
  t.equal(now.digest, moved.manifest.digest, 'the new digest upstream');
  await waitFor(async () => (await cachedDigest('lib/app', 'v1')) === moved.manifest.digest, 20_000);
});

t.test('pushes into a proxy-cache project are refused', async (t) => {
  const r = await skopeo(['copy', ...creds(admin, 'dest'), `oci:${src}:v1`, `docker://${host}/hub/lib/mine:v1`]);
  t.notOk(r.ok, 'the push fails');
  t.match(r.stderr, /proxy cache/, `skopeo shows why: ${r.stderr.slice(-300)}`);
});
