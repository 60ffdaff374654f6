// Two `berth serve` instances on one Redis and one bucket, as behind a load balancer: an upload begun on one is
// finished on the other, every request of a push may land on either, a tag moved on one is served by the other at
// once (pub/sub) or within the cache TTL when the message is lost, skopeo pushes to one and pulls from the other,
// and when one instance dies the other keeps serving (and finishes what the dead one began).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { digestOf, type Digest } from '../../core/digest.js';
import { RedisMetaStore } from '../../storage-adapters/meta/redis.js';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { acceptAllManifests, RegistryClient } from '../helpers/conformance-target.js';
import { image, writeOciLayout, type Image } from '../helpers/oci-fixtures.js';
import { startSharedStores } from '../helpers/shared-stores.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stores = await startSharedStores();
t.teardown(() => stores.stop());
const [a, b] = await Promise.all([startBerth({ env: stores.env() }), startBerth({ env: stores.env() })]);
t.teardown(() => Promise.allSettled([a.stop(), b.stop()]));
const regA = new RegistryClient(a.url);
const regB = new RegistryClient(b.url);

/** A client behind a round-robin load balancer: each request goes to the next instance. */
class RoundRobinClient extends RegistryClient {
  private next = 0;
  readonly served: string[] = [];
  constructor(private readonly instances: BerthProcess[]) {
    super(instances[0]!.url);
  }
  override url(pathOrLocation: string, query: Record<string, string | string[]> = {}): URL {
    const u = super.url(pathOrLocation, query);
    const to = this.instances[this.next++ % this.instances.length]!;
    u.host = new URL(to.url).host;
    this.served.push(to.url);
    return u;
  }
}

async function expectImage(t: Test, reg: RegistryClient, repo: string, ref: string, img: Image): Promise<void> {
  const m = await reg.getManifest(repo, ref, acceptAllManifests);
  t.equal(m.status, 200, `${repo}:${ref} from ${reg.base}`);
  t.ok(m.body.equals(img.manifest.bytes), 'identical manifest bytes');
  for (const blob of img.blobs) {
    const r = await reg.send('GET', `/v2/${repo}/blobs/${blob.digest}`);
    t.equal(digestOf(r.body), blob.digest, `blob ${blob.digest.slice(7, 19)} intact`);
  }
}

function patch(reg: RegistryClient, location: string, offset: number, bytes: Buffer) {
  return reg.send('PATCH', location, {
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + bytes.length - 1}` },
    body: bytes,
  });
}

t.test('a chunked upload begun on A is continued and finished on B with 201 and the right digest', async (t) => {
  const repo = 'scale/chunked';
  // Full parts (>= 5 MiB) and small chunks that the S3 store combines, alternating between the instances.
  const chunks = [randomBytes(6 * MiB), randomBytes(1 * MiB), randomBytes(300 * 1024), randomBytes(5 * MiB), randomBytes(77_777)];
  const whole = Buffer.concat(chunks);
  const digest = digestOf(whole);
  const post = await regA.startUpload(repo);
  t.equal(post.status, 202, 'POST on A');
  let location = post.headers.get('location')!;
  let offset = 0;
  for (const [i, chunk] of chunks.slice(0, -1).entries()) {
    const reg = i % 2 === 0 ? regA : regB;
    const r = await patch(reg, location, offset, chunk);
    t.equal(r.status, 202, `PATCH ${i + 1} on ${reg === regA ? 'A' : 'B'}`);
    offset += chunk.length;
    t.equal(r.headers.get('range'), `0-${offset - 1}`);
    location = r.headers.get('location')!;
  }
  const status = await regB.send('GET', location);
  t.equal(status.headers.get('range'), `0-${offset - 1}`, 'B reports every byte, wherever it was sent');
  const last = chunks[chunks.length - 1]!;
  const put = await regB.send('PUT', location, {
    query: { digest },
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + last.length - 1}` },
    body: last,
  });
  t.equal(put.status, 201, 'PUT (with the last chunk) on B: 201');
  t.equal(put.headers.get('docker-content-digest'), digest);
  for (const reg of [regA, regB]) {
    const got = await reg.send('GET', `/v2/${repo}/blobs/${digest}`);
    t.equal(got.body.length, whole.length);
    t.equal(digestOf(got.body), digest, `the blob read back through ${reg === regA ? 'A' : 'B'} has the digest`);
  }
});

t.test('a push whose every request goes to the next instance (round robin) is pulled intact from both', async (t) => {
  const img = image({ layers: 3, layerSize: 400_000 });
  const lb = new RoundRobinClient([a, b]);
  await lb.pushImage('scale/rr', img, 'v1');
  t.ok(new Set(lb.served).size === 2, `the push's ${lb.served.length} requests were spread over both instances`);
  await expectImage(t, regA, 'scale/rr', 'v1', img);
  await expectImage(t, regB, 'scale/rr', 'v1', img);
  t.same((await regB.send('GET', '/v2/scale/rr/tags/list')).json(), { name: 'scale/rr', tags: ['v1'] });
});

t.test('push on A, pull on B; a tag moved on A is served by B at once', async (t) => {
  const repo = 'scale/move';
  const [one, two] = [image({ layers: 1, layerSize: 50_000 }), image({ layers: 1, layerSize: 50_000 })];
  await regA.pushImage(repo, one, 'latest');
  await expectImage(t, regB, repo, 'latest', one);
  for (let i = 0; i < 5; i++) await regB.getManifest(repo, 'latest', acceptAllManifests); // hot on B
  await regA.pushImage(repo, two, 'latest');
  const r = await regB.getManifest(repo, 'latest', acceptAllManifests);
  t.equal(r.headers.get('docker-content-digest'), two.manifest.digest, 'B answers the new digest on the first request after A\'s 201');
  await regA.send('DELETE', `/v2/${repo}/manifests/latest`);
  t.equal((await regB.getManifest(repo, 'latest', acceptAllManifests)).status, 404, 'a tag deleted on A is gone on B at once');
});

t.test('with the invalidation message lost, B serves a moved tag for at most the 1 s cache TTL', async (t) => {
  const repo = 'scale/lost';
  const [one, two] = [image({ layers: 1, layerSize: 10_000 }), image({ layers: 1, layerSize: 10_000 })];
  await regA.pushImage(repo, one, 'latest');
  await regA.pushImage(repo, two, 'other');
  // A writer that publishes nothing: an instance that died between its Redis write and its message.
  const silent = new RedisMetaStore({ url: stores.redis.url });
  t.teardown(() => silent.close());
  const record = await silent.getManifest(repo, two.manifest.digest as Digest);
  t.ok(record);
  const digestOnB = async () => (await regB.getManifest(repo, 'latest', acceptAllManifests)).headers.get('docker-content-digest');
  t.equal(await digestOnB(), one.manifest.digest, 'B has read (and cached) latest → one');
  const result = await silent.putManifest(repo, record!, { name: 'latest', version: { wall: Date.now() + 1, logical: 0, idc: 'default' } });
  t.equal(result, 'applied');
  const movedAt = performance.now();
  // Each request's send time: a stale answer can only come to a request sent before the entry expired, which
  // is at most 1 s after the move whatever the machine's load (a slow answer only makes the send time earlier).
  let stale = 0;
  let lastStaleSentAt = 0;
  let freshSentAt = Infinity;
  while (performance.now() - movedAt < 5000) {
    const sentAt = performance.now() - movedAt;
    if ((await digestOnB()) === two.manifest.digest) {
      freshSentAt = sentAt;
      break;
    }
    stale++;
    lastStaleSentAt = sentAt;
    await sleep(10);
  }
  t.ok(freshSentAt < 5000, `B serves the new digest (request sent ${freshSentAt.toFixed(0)} ms after the silent move)`);
  t.ok(lastStaleSentAt <= 1000, `the last stale answer was to a request sent ${lastStaleSentAt.toFixed(0)} ms after the move (bound 1000 ms)`);
  t.ok(stale > 0, `and served the cached one meanwhile (${stale} stale answers): the cache was in use`);
});

const run = promisify(execFile);
t.test('skopeo pushes to A and pulls the same image from B', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'berth-scale-skopeo-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const policy = join(work, 'policy.json');
  const registriesConf = join(work, 'registries.conf');
  const authfile = join(work, 'auth.json');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await writeFile(registriesConf, 'unqualified-search-registries = []\n');
  await writeFile(authfile, JSON.stringify({ auths: {} }));
  const env = { ...process.env, CONTAINERS_REGISTRIES_CONF: registriesConf, REGISTRY_AUTH_FILE: authfile };
  const skopeo = async (...args: string[]) => {
    try {
      return (await run('/usr/bin/skopeo', ['--policy', policy, ...args], { env, timeout: 120_000 })).stdout;
    } catch (e) {
      throw new Error(`skopeo ${args.join(' ')}: ${(e as { stderr?: string }).stderr ?? e}\nA:\n${a.output().slice(-1500)}\nB:\n${b.output().slice(-1500)}`);
    }
  };
  const app = image({ layers: 3, layerSize: 500_000 });
  const src = join(work, 'src');
  await writeOciLayout(src, [{ tag: 'v1', image: app }]);
  // skopeo remembers where it saw blobs; a stale entry would make it skip uploads.
  await rm('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  const hostA = new URL(a.url).host;
  const hostB = new URL(b.url).host;
  await skopeo('copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', `oci:${src}:v1`, `docker://${hostA}/scale/skopeo:v1`);
  const back = join(work, 'back');
  await skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${hostB}/scale/skopeo:v1`, `oci:${back}:v1`);
  const index = JSON.parse(await readFile(join(back, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  t.equal(index.manifests[0]!.digest, app.manifest.digest, 'pulled from B: the manifest digest pushed to A');
  for (const blob of app.blobs) {
    const bytes = await readFile(join(back, 'blobs', 'sha256', blob.digest.slice(7)));
    t.ok(bytes.equals(blob.bytes), `blob ${blob.digest.slice(7, 19)} identical`);
  }
});

t.test('A killed mid-upload: B keeps serving, finishes A\'s upload, takes new pushes', async (t) => {
  const repo = 'scale/survivor';
  const before = image({ layers: 2, layerSize: 200_000 });
  await regA.pushImage(repo, before, 'v1');
  const first = randomBytes(6 * MiB);
  const post = await regA.startUpload(repo);
  const p1 = await patch(regA, post.headers.get('location')!, 0, first);
  t.equal(p1.status, 202);

  await a.kill();
  t.equal((await fetch(`${b.url}/healthz`)).status, 200, 'B healthy');
  await expectImage(t, regB, repo, 'v1', before);
  const second = randomBytes(2 * MiB);
  const p2 = await patch(regB, p1.headers.get('location')!, first.length, second);
  t.equal(p2.status, 202, 'B continues the session A began');
  const digest = digestOf(Buffer.concat([first, second]));
  const put = await regB.send('PUT', p2.headers.get('location')!, { query: { digest } });
  t.equal(put.status, 201, 'and finishes it');
  t.equal(digestOf((await regB.send('GET', `/v2/${repo}/blobs/${digest}`)).body), digest);
  const after = image({ layers: 2, layerSize: 100_000 });
  await regB.pushImage(repo, after, 'v2');
  await expectImage(t, regB, repo, 'v2', after);
  t.same((await regB.send('GET', `/v2/${repo}/tags/list`)).json<{ tags: string[] }>().tags, ['v1', 'v2']);
});
