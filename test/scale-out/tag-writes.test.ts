// Tag writes through two `berth serve` instances on one Redis: each instance versions its writes with its own
// clock, and a client's later write must win even when it goes through the instance whose clock runs behind
// (MetaStore contract: a local tag write never loses). The skew is real, not simulated: instance A has merged a
// replicated write from an IDC whose clock runs two minutes ahead (as its HLC must), so A's versions run ahead of
// B's by that much — before the fix, every push through B after one through A was dropped although B answered 201.
import t, { type Test } from 'tap';
import type { Digest } from '../../core/digest.js';
import { formatVersion } from '../../core/hlc.js';
import { RedisMetaStore } from '../../storage-adapters/meta/redis.js';
import { startBerth } from '../helpers/berth-process.js';
import { acceptAllManifests, RegistryClient } from '../helpers/conformance-target.js';
import { descriptorOf, image, ociManifest, type Manifest } from '../helpers/oci-fixtures.js';
import { startSharedStores } from '../helpers/shared-stores.js';

const stores = await startSharedStores({ durable: false });
t.teardown(() => stores.stop());
const [a, b] = await Promise.all([startBerth({ env: stores.env() }), startBerth({ env: stores.env() })]);
t.teardown(() => Promise.allSettled([a.stop(), b.stop()]));
const regA = new RegistryClient(a.url);
const regB = new RegistryClient(b.url);
const named = (reg: RegistryClient) => (reg === regA ? 'A' : 'B');
const meta = new RedisMetaStore({ url: stores.redis.url });
t.teardown(() => meta.close());

const repo = 'skew/app';
const base = image({ layers: 1, layerSize: 2000 });
/** Distinct manifests over the same config and layer, so each push moves the tag. */
const manifest = (n: number): Manifest =>
  ociManifest({ config: descriptorOf(base.blobs[0]!), layers: base.blobs.slice(1).map((l) => descriptorOf(l)), annotations: { n: String(n) } });

async function push(reg: RegistryClient, tag: string, m: Manifest): Promise<void> {
  const r = await reg.putManifest(repo, tag, m.bytes, m.mediaType);
  if (r.status !== 201) throw new Error(`PUT ${repo}:${tag} on ${named(reg)}: ${r.status} ${r.text()}`);
}

/** The digest `tag` resolves to through `reg` (undefined for 404). */
async function resolve(reg: RegistryClient, tag: string): Promise<string | undefined> {
  const r = await reg.getManifest(repo, tag, acceptAllManifests, 'HEAD');
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`HEAD ${repo}:${tag} on ${named(reg)}: ${r.status}`);
  return r.headers.get('docker-content-digest') ?? undefined;
}

async function expectTag(t: Test, tag: string, digest: string | undefined, what: string): Promise<boolean> {
  const [onA, onB] = [await resolve(regA, tag), await resolve(regB, tag)];
  const ok = onA === digest && onB === digest;
  if (!ok) t.fail(`${what}: ${tag} is ${onA} on A and ${onB} on B, want ${digest}`);
  return ok;
}

t.before(async () => {
  await regA.pushImage(repo, base, 'base');
  // A merges a replicated write versioned two minutes ahead: its clock now runs that far ahead of B's.
  const ahead = { wall: Date.now() + 120_000, logical: 0, idc: 'far' };
  const seed = manifest(-1);
  const r = await regA.send('PUT', `/v2/${repo}/manifests/seed`, {
    headers: { 'content-type': seed.mediaType, 'Berth-Tag-Version': formatVersion(ahead), 'Berth-Replicated-From': 'far' },
    body: seed.bytes,
  });
  if (r.status !== 201) throw new Error(`seeding the skew: ${r.status} ${r.text()}`);
});

t.test('the skew is there: A versions its writes ahead of B, and B\'s later write is applied just after A\'s', async (t) => {
  await push(regA, 'probe', manifest(-2));
  const onA = (await meta.getTag(repo, 'probe'))!;
  t.ok(onA.version.wall > Date.now() + 60_000, `A's write carries wall ${onA.version.wall}, ${onA.version.wall - Date.now()} ms ahead of now`);
  await push(regB, 'probe', manifest(-3));
  const onB = (await meta.getTag(repo, 'probe'))!;
  t.equal(onB.digest, manifest(-3).digest as Digest, 'B\'s push won');
  t.same(onB.version, { wall: onA.version.wall, logical: onA.version.logical + 1, idc: onA.version.idc }, 'at the version just after A\'s');
});

t.test('50 pushes of one tag alternating between A and B: the tag is always the last one pushed, on both', async (t) => {
  let ok = 0;
  for (let i = 0; i < 50; i++) {
    const reg = i % 2 === 0 ? regA : regB;
    const m = manifest(i);
    await push(reg, 'latest', m);
    if (await expectTag(t, 'latest', m.digest, `push ${i + 1} through ${named(reg)}`)) ok++;
  }
  t.equal(ok, 50, 'every push took effect');
  const events = (await meta.readOutbox(0, 10_000)).filter((e) => e.repository === repo && e.tag === 'latest');
  t.equal(events.length, 50, 'one tag.put each: replication sees every move');
});

t.test('push after delete: a tag deleted through A comes back when pushed through B (and the other way round)', async (t) => {
  let ok = 0;
  for (let i = 0; i < 10; i++) {
    const [deleter, pusher] = i % 2 === 0 ? [regA, regB] : [regB, regA];
    await push(deleter, 'again', manifest(100 + i));
    const del = await deleter.send('DELETE', `/v2/${repo}/manifests/again`);
    t.equal(del.status, 202, `DELETE through ${named(deleter)}`);
    if (!(await expectTag(t, 'again', undefined, `deleted through ${named(deleter)}`))) continue;
    const m = manifest(200 + i);
    await push(pusher, 'again', m);
    if (await expectTag(t, 'again', m.digest, `pushed through ${named(pusher)} after the delete`)) ok++;
  }
  t.equal(ok, 10);
});

t.test('delete after push: a tag pushed through A and deleted through B is gone on both', async (t) => {
  let ok = 0;
  for (let i = 0; i < 10; i++) {
    const [pusher, deleter] = i % 2 === 0 ? [regA, regB] : [regB, regA];
    await push(pusher, 'brief', manifest(300 + i));
    const del = await deleter.send('DELETE', `/v2/${repo}/manifests/brief`);
    t.equal(del.status, 202, `DELETE through ${named(deleter)}`);
    if (await expectTag(t, 'brief', undefined, `pushed through ${named(pusher)}, deleted through ${named(deleter)}`)) ok++;
  }
  t.equal(ok, 10);
  const tags = (await regB.send('GET', `/v2/${repo}/tags/list`)).json<{ tags: string[] }>().tags;
  t.notOk(tags.includes('brief'), 'not listed');
});
