// End to end with the real clients: skopeo pushes an image built here (an OCI layout written by the test, no
// daemon) and pulls it back; the manifests and layers must come back bit for bit. Then a multi-arch index with
// --all, a Docker schema 2 conversion, a docker-archive round trip, and podman pull checking the image id.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { acceptAllManifests, targetFor } from '../helpers/conformance-target.js';
import { allBlobs, diffIdsOf, image, multiArch, writeOciLayout, type Image } from '../helpers/oci-fixtures.js';
import { digestOf } from '../../core/digest.js';
import { MediaType } from '../../core/media-types.js';

const run = promisify(execFile);
const target = await targetFor(t);
const reg = target.client;
const host = `127.0.0.1:${target.port}`;

const work = await mkdtemp(join(tmpdir(), 'berth-e2e-skopeo-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
// Private client configuration so nothing global is read or changed: no credentials, accept-anything policy,
// no search registries.
const authfile = join(work, 'auth.json');
const policy = join(work, 'policy.json');
const registriesConf = join(work, 'registries.conf');
await writeFile(authfile, JSON.stringify({ auths: {} }));
await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
await writeFile(registriesConf, 'unqualified-search-registries = []\n');
const env = { ...process.env, CONTAINERS_REGISTRIES_CONF: registriesConf, REGISTRY_AUTH_FILE: authfile };

// skopeo remembers where it saw each blob (by registry host:port); a stale entry from an earlier run on the same
// port would make it mount or skip instead of uploading. The cache is only a cache: removing it is harmless.
async function forgetBlobLocations(): Promise<void> {
  await rm('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
}

async function skopeo(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('skopeo', ['--policy', policy, ...args], { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(' ')}: ${err.stderr ?? err.message}\n--- registry output:\n${target.output().slice(-2000)}`);
  }
}

async function podman(root: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(
    'podman',
    ['--root', join(root, 'root'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs', '--events-backend', 'file', '--cgroup-manager', 'cgroupfs', ...args],
    { env, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

/** What an OCI layout directory (as skopeo wrote it) says the image at `tag` is. */
async function readLayout(dir: string, tag: string): Promise<{ digest: string; manifest: Buffer; blob(d: string): Promise<Buffer> }> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag) ?? index.manifests[0]!;
  const blob = (d: string) => readFile(join(dir, 'blobs', d.split(':')[0]!, d.split(':')[1]!));
  return { digest: entry.digest, manifest: await blob(entry.digest), blob };
}

const app = image({ layers: 3, layerSize: 300_000 });
const multi = multiArch('oci', undefined, 100_000);
const src = join(work, 'src');
await writeOciLayout(src, [
  { tag: 'v1', image: app },
  { tag: 'multi', image: multi },
]);

async function expectInRegistry(t: Test, repo: string, ref: string, img: Image): Promise<void> {
  const m = await reg.getManifest(repo, ref, acceptAllManifests);
  t.equal(m.status, 200, `${repo}:${ref} is in the registry`);
  t.ok(m.body.equals(img.manifest.bytes), 'the registry holds the exact manifest bytes');
  for (const b of allBlobs(img)) {
    const r = await reg.send('GET', `/v2/${repo}/blobs/${b.digest}`);
    t.equal(digestOf(r.body), b.digest, `blob ${b.digest.slice(7, 19)} intact`);
  }
}

t.test('skopeo copy oci: -> docker:// pushes the image unchanged (manifest digest and every blob)', async (t) => {
  await forgetBlobLocations();
  const digestfile = join(work, 'pushed.digest');
  await skopeo('copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', '--digestfile', digestfile, `oci:${src}:v1`, `docker://${host}/e2e/app:v1`);
  t.equal((await readFile(digestfile, 'utf8')).trim(), app.manifest.digest, 'skopeo reports the local manifest digest');
  await expectInRegistry(t, 'e2e/app', 'v1', app);
  const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/e2e/app:v1`);
  t.equal(digestOf(raw), app.manifest.digest, 'skopeo inspect --raw gives the same bytes');
  const tags = JSON.parse(await skopeo('list-tags', '--tls-verify=false', `docker://${host}/e2e/app`)) as { Tags: string[] };
  t.same(tags.Tags, ['v1']);
});

t.test('skopeo copy docker:// -> oci: and dir: gives back identical manifest and layers', async (t) => {
  const back = join(work, 'back-oci');
  await skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${host}/e2e/app:v1`, `oci:${back}:v1`);
  const layout = await readLayout(back, 'v1');
  t.equal(layout.digest, app.manifest.digest, 'same manifest digest');
  t.ok(layout.manifest.equals(app.manifest.bytes), 'same manifest bytes');
  for (const b of app.blobs) t.ok((await layout.blob(b.digest)).equals(b.bytes), `layer/config ${b.digest.slice(7, 19)} identical`);

  const dir = join(work, 'back-dir');
  await skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${host}/e2e/app:v1`, `dir:${dir}`);
  t.ok((await readFile(join(dir, 'manifest.json'))).equals(app.manifest.bytes), 'dir: manifest.json identical');
  const files = new Set(await readdir(dir));
  for (const b of app.blobs) {
    const hex = b.digest.slice('sha256:'.length);
    t.ok(files.has(hex), `dir: has ${hex.slice(0, 12)}`);
    t.equal(digestOf(await readFile(join(dir, hex))), b.digest);
  }
});

t.test('skopeo copy --all pushes and pulls a multi-arch OCI index with every child', async (t) => {
  await forgetBlobLocations();
  await skopeo('copy', '--quiet', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${src}:multi`, `docker://${host}/e2e/multi:v1`);
  await expectInRegistry(t, 'e2e/multi', 'v1', multi);
  for (const c of multi.children) {
    const r = await reg.getManifest('e2e/multi', c.manifest.digest, acceptAllManifests);
    t.ok(r.body.equals(c.manifest.bytes), `child ${c.manifest.digest.slice(7, 19)} identical`);
  }
  const back = join(work, 'back-multi');
  await skopeo('copy', '--quiet', '--all', '--src-tls-verify=false', `docker://${host}/e2e/multi:v1`, `oci:${back}:multi`);
  const layout = await readLayout(back, 'multi');
  t.equal(layout.digest, multi.manifest.digest, 'same index digest');
  for (const c of multi.children) {
    t.ok((await layout.blob(c.manifest.digest)).equals(c.manifest.bytes), 'child manifest came back');
    for (const b of c.blobs) t.ok((await layout.blob(b.digest)).equals(b.bytes), `child blob ${b.digest.slice(7, 19)} came back`);
  }
});

t.test('skopeo copy --format v2s2 pushes a Docker schema 2 manifest over the same layers', async (t) => {
  await forgetBlobLocations();
  await skopeo('copy', '--quiet', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${src}:v1`, `docker://${host}/e2e/app-docker:v1`);
  const m = await reg.getManifest('e2e/app-docker', 'v1', acceptAllManifests);
  t.equal(m.status, 200);
  t.equal(m.headers.get('content-type'), MediaType.dockerManifest);
  const json = m.json<{ mediaType: string; config: { digest: string }; layers: { digest: string; mediaType: string }[] }>();
  t.equal(json.mediaType, MediaType.dockerManifest);
  t.same(json.layers.map((l) => l.digest), app.blobs.slice(1).map((b) => b.digest), 'the same gzip layers');
  t.equal(json.config.digest, app.blobs[0]!.digest, 'the same config');
  const dir = join(work, 'back-docker');
  await skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${host}/e2e/app-docker:v1`, `dir:${dir}`);
  t.ok((await readFile(join(dir, 'manifest.json'))).equals(m.body), 'pulled manifest equals the stored one');
});

t.test('a docker-archive round trip: pushed from the archive, the config and its diff_ids are unchanged', async (t) => {
  const archive = join(work, 'app.tar');
  await skopeo('copy', '--quiet', `oci:${src}:v1`, `docker-archive:${archive}:e2e/app:v1`);
  await forgetBlobLocations();
  await skopeo('copy', '--quiet', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${host}/e2e/from-archive:v1`);
  const m = await reg.getManifest('e2e/from-archive', 'v1', acceptAllManifests);
  t.equal(m.status, 200);
  const manifest = m.json<{ config: { digest: string }; layers: { digest: string }[] }>();
  const config = await reg.send('GET', `/v2/e2e/from-archive/blobs/${manifest.config.digest}`);
  t.equal(digestOf(config.body), manifest.config.digest);
  const diffIds = config.json<{ rootfs: { diff_ids: string[] } }>().rootfs.diff_ids;
  t.same(diffIds, diffIdsOf(app), 'the layers hold the same files');
  for (const l of manifest.layers) {
    const r = await reg.send('GET', `/v2/e2e/from-archive/blobs/${l.digest}`);
    t.equal(digestOf(r.body), l.digest, 'each recompressed layer is served intact');
  }
});

t.test('podman pull --tls-verify=false gets the image with the expected image id and layers', async (t) => {
  const root = join(work, 'podman');
  await forgetBlobLocations();
  await podman(root, 'pull', '--quiet', '--tls-verify=false', `${host}/e2e/app:v1`);
  const inspect = JSON.parse(await podman(root, 'image', 'inspect', `${host}/e2e/app:v1`)) as { Id: string; Digest: string; RootFS: { Layers: string[] } }[];
  t.equal(inspect.length, 1);
  t.equal(`sha256:${inspect[0]!.Id}`, app.blobs[0]!.digest, 'image id is the config digest');
  t.equal(inspect[0]!.Digest, app.manifest.digest, 'the manifest digest podman recorded');
  t.same(inspect[0]!.RootFS.Layers, diffIdsOf(app), 'layers unpacked to the expected diff_ids');
});
