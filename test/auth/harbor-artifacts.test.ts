// Harbor's artifact, tag and label API against a real berth process, on SQLite and on Redis: images pushed with
// skopeo (a multi-arch index) and over /v2 (an image with a signature and an SBOM as OCI referrers), then every
// field checked against what was pushed — sizes summed from the pushed blobs, extra_attrs from the config —
// plus paging, q and sort, copy (pulled back with skopeo), tags, labels and who may do what.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { digestOf } from '../../core/digest.js';
import { runTool } from '../helpers/daemon.js';
import {
  ConfigType,
  artifact,
  blobOf,
  descriptorOf,
  gzipLayer,
  image,
  multiArch,
  ociManifest,
  type Image,
} from '../helpers/oci-fixtures.js';
import { startBerth } from '../helpers/berth-process.js';
import { startRedis } from '../helpers/redis-server.js';
import { skopeoPush } from '../helpers/tls-registry.js';
import { ADMIN_PASSWORD, AdminApi, admin, basic, pullManifest, pushImage, startTokenBerth } from './access.js';

const NEVER = '0001-01-01T00:00:00.000Z';
const COSIGN = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SPDX = 'application/spdx+json';

/** An image whose config carries an author, labels and a two-step history. */
function appImage(): Image {
  const layers = [gzipLayer(3000), gzipLayer(5000)];
  const config = blobOf(
    JSON.stringify({
      created: '2024-05-01T10:00:00Z',
      author: 'Berth Tests <tests@example.test>',
      architecture: 'arm64',
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['/app'], Labels: { team: 'infra' } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: [
        { created: '2024-05-01T10:00:00Z', created_by: 'ADD app /app' },
        { created: '2024-05-01T10:00:01Z', created_by: 'ADD data /data' },
        { created: '2024-05-01T10:00:02Z', created_by: 'CMD ["/app"]', empty_layer: true },
      ],
    }),
    ConfigType.oci,
  );
  const manifest = ociManifest({ config: descriptorOf(config), layers: layers.map((l) => descriptorOf(l)) });
  return { manifest, blobs: [config, ...layers], children: [] };
}

/** Harbor's size: the manifest and every blob it references, and for an index its children's sizes too. */
function harborSize(img: Image): number {
  return img.manifest.bytes.length + img.blobs.reduce((n, b) => n + b.size, 0) + img.children.reduce((n, c) => n + harborSize(c), 0);
}

async function scenario(t: Test, env: Record<string, string>, shared = false): Promise<void> {
  const berth = await startTokenBerth(t, env);
  const root = new AdminApi(berth.url, admin);
  const auth = basic(admin);
  const projectId = await root.createProject('art', false);
  await root.createUser('gus', 'Guest-pass-1');
  await root.createUser('dev', 'Develop-pass-1');
  await root.addMember('art', 'gus', 3);
  await root.addMember('art', 'dev', 2);
  const guest = new AdminApi(berth.url, { username: 'gus', password: 'Guest-pass-1' });
  const developer = new AdminApi(berth.url, { username: 'dev', password: 'Develop-pass-1' });

  const app = appImage();
  const sig = artifact({ artifactType: COSIGN, subject: app.manifest, blobs: [blobOf('signature of app', 'application/vnd.dev.cosign.simplesigning.v1+json')] });
  const sbom = artifact({ artifactType: SPDX, subject: app.manifest, blobs: [blobOf('{"spdxVersion":"SPDX-2.3"}', SPDX)] });
  const multi = multiArch('oci');
  const target = { plainUrl: berth.url, password: ADMIN_PASSWORD };
  await skopeoPush(target, app, 'art/team/app', 'v1');
  await skopeoPush(target, multi, 'art/multi', 'v1');
  // The referrers go over /v2 by digest: their subject makes them referrers (OCI 1.1), no tag needed.
  for (const r of [sig, sbom]) t.equal(await pushImage(berth.url, 'art/team/app', r.manifest.digest, auth, r), 201, 'referrer pushed');
  const referrers = await fetch(`${berth.url}/v2/art/team/app/referrers/${app.manifest.digest}`, { headers: { Authorization: auth } });
  t.equal(((await referrers.json()) as { manifests: unknown[] }).manifests.length, 2, 'both are referrers of the image');

  // The repository inside the project is a%2Fb, sent URL-encoded twice as Harbor's clients do.
  const appPath = '/projects/art/repositories/team%252Fapp/artifacts';

  await t.test('an image: every field from what was pushed', async (t) => {
    const list = await root.get(`${appPath}?with_accessory=true&with_label=true`);
    t.equal(list.status, 200, list.text);
    t.equal(list.headers.get('x-total-count'), '1', 'the referrers are accessories, not listed');
    const a = list.json[0];
    t.equal(a.digest, app.manifest.digest);
    t.equal(a.type, 'IMAGE');
    t.equal(a.media_type, ConfigType.oci);
    t.equal(a.manifest_media_type, 'application/vnd.oci.image.manifest.v1+json');
    t.equal(a.size, harborSize(app), 'manifest + config + layers');
    t.equal(a.project_id, projectId);
    t.equal(a.repository_name, 'art/team/app');
    t.same(a.extra_attrs, {
      architecture: 'arm64',
      author: 'Berth Tests <tests@example.test>',
      config: { Env: ['PATH=/bin'], Cmd: ['/app'], Labels: { team: 'infra' } },
      created: '2024-05-01T10:00:00Z',
      os: 'linux',
    });
    t.equal(a.pull_time, NEVER, 'never pulled yet');
    t.ok(Date.parse(a.push_time) > Date.now() - 120_000, 'pushed just now');
    t.same(a.tags.map((x: any) => x.name), ['v1']);
    t.equal(a.tags[0].artifact_id, a.id);
    t.equal(a.tags[0].immutable, false);
    t.same(a.labels, []);
    t.equal(a.addition_links.build_history.href, `/api/v2.0${appPath}/${app.manifest.digest}/additions/build_history`);
    const accessories = [...a.accessories].sort((x: any, y: any) => (x.type < y.type ? -1 : 1));
    t.same(
      accessories.map((x: any) => ({ type: x.type, digest: x.digest, size: x.size, subject: x.subject_artifact_digest, repo: x.subject_artifact_repo })),
      [
        { type: 'signature.cosign', digest: sig.manifest.digest, size: harborSize(sig), subject: app.manifest.digest, repo: 'art/team/app' },
        { type: 'subject.accessory', digest: sbom.manifest.digest, size: harborSize(sbom), subject: app.manifest.digest, repo: 'art/team/app' },
      ],
    );
    const byTag = await root.get(`${appPath}/v1`);
    const byDigest = await root.get(`${appPath}/${app.manifest.digest}`);
    t.equal(byTag.status, 200);
    t.same(byTag.json, byDigest.json, 'by tag and by digest alike');
    t.notOk('accessories' in byTag.json, 'accessories only when asked');
    t.equal((await root.get(`${appPath}/v1/accessories`)).headers.get('x-total-count'), '2');
    t.equal((await root.get(`${appPath}/v9`)).status, 404);
    t.equal((await root.get(`${appPath}/bad%20ref`)).status, 400);
    t.equal((await root.get(`${appPath}?with_tag=maybe`)).status, 422);

    const history = await root.get(`${appPath}/v1/additions/build_history`);
    t.equal(history.status, 200);
    t.same(history.json.map((h: any) => h.created_by), ['ADD app /app', 'ADD data /data', 'CMD ["/app"]']);
    t.equal((await root.get(`${appPath}/${sig.manifest.digest}/additions/build_history`)).status, 404, 'not an image');
  });

  await t.test('a multi-arch index: size with its children, references with platforms', async (t) => {
    const a = (await root.get('/projects/art/repositories/multi/artifacts/v1')).json;
    t.equal(a.type, 'IMAGE');
    t.equal(a.media_type, 'application/vnd.oci.image.index.v1+json');
    t.equal(a.manifest_media_type, 'application/vnd.oci.image.index.v1+json');
    t.equal(a.size, harborSize(multi));
    t.same(
      a.references.map((r: any) => ({ child: r.child_digest, platform: r.platform, parent: r.parent_id })),
      multi.children.map((c, i) => ({ child: c.manifest.digest, platform: multi.manifest.json.manifests[i].platform, parent: a.id })),
    );
    const list = await root.get('/projects/art/repositories/multi/artifacts');
    t.same(list.json.map((x: any) => x.digest), [multi.manifest.digest], 'children are not listed on their own');
    const all = await root.get('/projects/art/repositories/multi/artifacts?q=base%3D*');
    t.equal(all.headers.get('x-total-count'), '3', 'q=base=* lists them too');
    const child = (await root.get(`/projects/art/repositories/multi/artifacts/${multi.children[1]!.manifest.digest}`)).json;
    t.equal(child.extra_attrs.architecture, 'arm64');
    t.equal(child.size, harborSize(multi.children[1]!));
    const refused = await root.del(`/projects/art/repositories/multi/artifacts/${multi.children[0]!.manifest.digest}`);
    t.equal(refused.status, 412, 'a child of an index stays');
  });

  await t.test('pull_time and pull_count follow manifest GETs', async (t) => {
    const before = Date.now();
    t.equal(await pullManifest(berth.url, 'art/team/app', 'v1', auth), 200);
    const a = (await root.get(`${appPath}/v1`)).json;
    t.ok(Date.parse(a.pull_time) >= before - 1000, `artifact pull_time ${a.pull_time}`);
    t.ok(Date.parse(a.tags[0].pull_time) >= before - 1000, 'tag pull_time');
    const repo = (await root.get('/projects/art/repositories/team%252Fapp')).json;
    t.equal(repo.pull_count, 1);
    if (!shared) return;
    // A second instance on the same stores sees the stored times once the first has flushed its batch (5 s).
    const peer = await startBerth({ dataDir: berth.dataDir, env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env } });
    t.teardown(() => peer.stop());
    const other = new AdminApi(peer.url, admin);
    const deadline = Date.now() + 15_000;
    let seen: any;
    while (Date.now() < deadline) {
      seen = (await other.get(`${appPath}/v1`)).json;
      if (seen.pull_time !== NEVER) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    t.equal(seen.pull_time, a.pull_time, 'the stored artifact pull_time');
    t.equal(seen.tags[0].pull_time, a.tags[0].pull_time, 'the stored tag pull_time');
    t.equal((await other.get('/projects/art/repositories/team%252Fapp')).json.pull_count, 1, 'the stored pull_count');
  });

  await t.test('repositories: id, artifact_count, description, update_time', async (t) => {
    const before = (await root.get('/projects/art/repositories/team%252Fapp')).json;
    t.type(before.id, 'number');
    t.equal(before.artifact_count, 1, 'referrers are not counted');
    t.equal((await root.put('/projects/art/repositories/team%252Fapp', { description: 'the app' })).status, 200);
    const after = (await root.get('/projects/art/repositories/team%252Fapp')).json;
    t.equal(after.description, 'the app');
    t.equal(after.id, before.id, 'the id is stable');
    t.ok(after.update_time >= before.update_time);
    t.equal((await guest.put('/projects/art/repositories/team%252Fapp', { description: 'x' })).status, 403, 'a guest may not');
    t.equal((await root.put('/projects/art/repositories/nothing', { description: 'x' })).status, 404);
    const sorted = await root.get('/projects/art/repositories?sort=-artifact_count');
    t.equal(sorted.status, 200);
  });

  await t.test('paging, Link headers, q and sort', async (t) => {
    const digests: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const img = image({ layers: 1, layerSize: 256 + i });
      t.equal(await pushImage(berth.url, 'art/many', `v${i}`, auth, img), 201);
      digests.push(img.manifest.digest);
    }
    const base = '/projects/art/repositories/many/artifacts';
    const first = await root.get(`${base}?page=1&page_size=2`);
    t.equal(first.headers.get('x-total-count'), '5');
    t.equal(first.json.length, 2);
    t.equal(first.headers.get('link'), `</api/v2.0${base}?page=2&page_size=2>; rel="next"`);
    const middle = await root.get(`${base}?page=2&page_size=2`);
    t.equal(middle.headers.get('link'), `</api/v2.0${base}?page=1&page_size=2>; rel="prev" , </api/v2.0${base}?page=3&page_size=2>; rel="next"`);
    const last = await root.get(`${base}?page=3&page_size=2`);
    t.equal(last.json.length, 1);
    t.equal(last.headers.get('link'), `</api/v2.0${base}?page=2&page_size=2>; rel="prev"`);
    t.same(first.json.map((x: any) => x.tags[0].name), ['v5', 'v4'], 'newest push first');

    const byTag = await root.get(`${base}?q=${encodeURIComponent('tags=v3')}`);
    t.same(byTag.json.map((x: any) => x.digest), [digests[2]]);
    const byDigest = await root.get(`${base}?q=${encodeURIComponent(`digest=${digests[0]}`)}`);
    t.same(byDigest.json.map((x: any) => x.tags[0].name), ['v1']);
    const union = await root.get(`${base}?q=${encodeURIComponent('tags={v1 v4}')}`);
    t.equal(union.headers.get('x-total-count'), '2');
    const media = await root.get(`${base}?q=${encodeURIComponent(`media_type=${ConfigType.oci}`)}`);
    t.equal(media.headers.get('x-total-count'), '5');
    t.equal((await root.get(`${base}?q=${encodeURIComponent('colour=red')}`)).status, 400, 'an unknown key is refused');
    const ascending = await root.get(`${base}?sort=digest&page_size=10`);
    t.same(ascending.json.map((x: any) => x.digest), [...digests].sort());
    const oldest = await root.get(`${base}?sort=push_time&page_size=1`);
    t.equal(oldest.json[0].tags[0].name, 'v1');
    t.equal((await root.get(`${base}?page_size=101`)).status, 422);

    const project = await root.get('/projects/art/artifacts?page_size=20');
    t.equal(project.status, 200, project.text);
    t.equal(project.headers.get('x-total-count'), '7', 'the project-wide list: app, multi and the five of many');
    t.same(new Set(project.json.map((x: any) => x.repository_name)), new Set(['art/team/app', 'art/multi', 'art/many']));
    t.equal((await root.get('/projects/art/artifacts?latest_in_repository=true')).status, 400, 'latest needs media_type or artifact_type');
    const latest = await root.get(`/projects/art/artifacts?latest_in_repository=true&q=${encodeURIComponent(`media_type=${ConfigType.oci}`)}`);
    t.same(latest.json.map((x: any) => x.digest), [digests[4], app.manifest.digest], 'the newest image of each repository (the index is no image config)');
  });

  await t.test('copy an index, then pull the copy with skopeo', async (t) => {
    const copied = await root.post(`/projects/art/repositories/copied%252Fmulti/artifacts?from=${encodeURIComponent('art/multi:v1')}`);
    t.equal(copied.status, 201, copied.text);
    t.equal(copied.headers.get('location'), '/api/v2.0/projects/art/repositories/copied%2Fmulti/artifacts/v1');
    const a = (await root.get('/projects/art/repositories/copied%252Fmulti/artifacts/v1')).json;
    t.equal(a.digest, multi.manifest.digest);
    t.equal(a.size, harborSize(multi));
    const dir = await mkdtemp(join(tmpdir(), 'berth-copy-pull-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const host = berth.url.replace(/^http:\/\//, '');
    const pull = await runTool('skopeo', ['--insecure-policy', 'copy', '--quiet', '--all', '--src-tls-verify=false', '--src-creds', `admin:${ADMIN_PASSWORD}`,
      `docker://${host}/art/copied/multi:v1`, `oci:${dir}:v1`]);
    t.equal(pull.code, 0, pull.out);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    t.equal(index.manifests[0].digest, multi.manifest.digest, 'skopeo pulled the copied index');
    for (const c of multi.children) {
      const bytes = await readFile(join(dir, 'blobs', 'sha256', c.manifest.digest.slice(7)));
      t.equal(digestOf(bytes), c.manifest.digest, 'and its children');
    }
    const byDigest = await root.post(`/projects/art/repositories/copy2/artifacts?from=${encodeURIComponent(`art/team/app@${app.manifest.digest}`)}`);
    t.equal(byDigest.status, 201);
    t.equal((await root.get(`/projects/art/repositories/copy2/artifacts/v1?with_accessory=true`)).json.accessories.length, 2, 'tags and accessories come along');
    t.equal((await root.post('/projects/art/repositories/x/artifacts?from=nonsense')).status, 400);
    t.equal((await root.post('/projects/art/repositories/x/artifacts?from=art%2Fmulti%3Anope')).status, 404);
    t.equal((await root.post('/projects/art/repositories/x/artifacts')).status, 422, 'from is required');
    t.equal((await guest.post(`/projects/art/repositories/x/artifacts?from=${encodeURIComponent('art/multi:v1')}`)).status, 403, 'a guest may not copy');
  });

  await t.test('tags: create, list, delete', async (t) => {
    const tags = `${appPath}/v1/tags`;
    t.equal((await developer.post(tags, { name: 'stable' })).status, 201, 'a developer tags');
    t.equal((await root.post(tags, { name: 'stable' })).status, 409, 'once');
    t.equal((await root.post(tags, { name: 'bad tag' })).status, 400);
    t.equal((await guest.post(tags, { name: 'other' })).status, 403, 'a guest may not');
    const list = await guest.get(tags);
    t.equal(list.status, 200);
    t.same(list.json.map((x: any) => x.name), ['stable', 'v1']);
    const v2 = await fetch(`${berth.url}/v2/art/team/app/manifests/stable`, { method: 'HEAD', headers: { Authorization: auth } });
    t.equal(v2.headers.get('docker-content-digest'), app.manifest.digest, 'the tag is served over /v2');
    t.equal((await developer.del(`${tags}/stable`)).status, 403, 'developers do not delete tags');
    t.equal((await root.del(`${tags}/stable`)).status, 200);
    t.equal((await root.del(`${tags}/stable`)).status, 404);
    const after = await fetch(`${berth.url}/v2/art/team/app/tags/list`, { headers: { Authorization: auth } });
    t.same(((await after.json()) as { tags: string[] }).tags, ['v1']);
  });

  await t.test('labels: global and project, attach, filter, detach', async (t) => {
    const global = await root.post('/labels', { name: 'prod', description: 'in production', color: '#00ff00', scope: 'g' });
    t.equal(global.status, 201, global.text);
    const gid = Number(global.headers.get('location')!.split('/').pop());
    t.match(global.headers.get('location'), /^\/api\/v2\.0\/labels\/\d+$/);
    t.equal((await root.post('/labels', { name: 'prod', scope: 'g' })).status, 409);
    t.equal((await developer.post('/labels', { name: 'mine', scope: 'g' })).status, 403, 'global labels are the admins\'');
    const project = await root.post('/labels', { name: 'team-a', scope: 'p', project_id: projectId });
    t.equal(project.status, 201);
    const pid = Number(project.headers.get('location')!.split('/').pop());
    t.equal((await root.post('/labels', { name: 'x', scope: 'p' })).status, 400, 'a project label names its project');
    t.same((await guest.get('/labels?scope=g')).json.map((l: any) => l.name), ['prod']);
    const projectLabels = await guest.get(`/labels?scope=p&project_id=${projectId}`);
    t.same(projectLabels.json.map((l: any) => ({ id: l.id, name: l.name, scope: l.scope, project_id: l.project_id })), [{ id: pid, name: 'team-a', scope: 'p', project_id: projectId }]);
    t.equal((await root.get('/labels')).status, 400, 'scope is required');
    t.equal((await root.put(`/labels/${pid}`, { name: 'team-b', color: '#123456' })).status, 200);
    t.equal((await root.get(`/labels/${pid}`)).json.name, 'team-b');

    const many = '/projects/art/repositories/many/artifacts';
    t.equal((await developer.post(`${many}/v1/labels`, { id: gid })).status, 200, 'a developer labels');
    t.equal((await root.post(`${many}/v1/labels`, { id: gid })).status, 409);
    t.equal((await root.post(`${many}/v2/labels`, { id: pid })).status, 200);
    t.equal((await root.post(`${many}/v2/labels`, { id: gid })).status, 200);
    t.equal((await guest.post(`${many}/v3/labels`, { id: gid })).status, 403, 'a guest may not');
    t.equal((await root.post(`${many}/v3/labels`, { id: 999999 })).status, 404);
    const labelled = (await root.get(`${many}/v2?with_label=true`)).json;
    t.same(labelled.labels.map((l: any) => l.name).sort(), ['prod', 'team-b']);
    const withProd = await root.get(`${many}?q=${encodeURIComponent(`labels=(${gid})`)}`);
    t.same(withProd.json.map((x: any) => x.tags[0].name).sort(), ['v1', 'v2']);
    const withBoth = await root.get(`${many}?q=${encodeURIComponent(`labels=(${gid} ${pid})`)}`);
    t.same(withBoth.json.map((x: any) => x.tags[0].name), ['v2'], 'an intersection');
    t.equal((await root.del(`${many}/v1/labels/${gid}`)).status, 200);
    t.equal((await root.del(`${many}/v1/labels/${gid}`)).status, 404);
    const afterDetach = await root.get(`${many}?q=${encodeURIComponent(`labels=(${gid})`)}`);
    t.same(afterDetach.json.map((x: any) => x.tags[0].name), ['v2']);
    t.equal((await root.del(`/labels/${gid}`)).status, 200);
    t.same((await root.get(`${many}/v2?with_label=true`)).json.labels.map((l: any) => l.name), ['team-b'], 'a deleted label leaves its artifacts');
  });

  await t.test('delete: guests and robots without artifact:delete are refused', async (t) => {
    const many = '/projects/art/repositories/many/artifacts';
    t.equal((await guest.get(many)).status, 200, 'a guest lists');
    t.equal((await guest.del(`${many}/v5`)).status, 403, 'a guest may not delete');
    t.equal((await new AdminApi(berth.url).get(many)).status, 401, 'anonymous, private project');
    const reader = await root.createRobot({
      name: 'reader', level: 'project', duration: -1,
      permissions: [{ kind: 'project', namespace: 'art', access: [{ resource: 'repository', action: 'pull' }, { resource: 'artifact', action: 'list' }, { resource: 'artifact', action: 'read' }, { resource: 'tag', action: 'delete' }] }],
    });
    const asReader = new AdminApi(berth.url, { username: reader.name, password: reader.secret });
    t.equal((await asReader.get(many)).status, 200, 'artifact:list lists');
    t.equal((await asReader.del(`${many}/v5`)).status, 403, 'without artifact:delete: 403');
    const puller = await root.createRobot({ name: 'puller', level: 'project', duration: -1, permissions: [{ kind: 'project', namespace: 'art', access: [{ resource: 'repository', action: 'pull' }] }] });
    t.equal((await new AdminApi(berth.url, { username: puller.name, password: puller.secret }).get(many)).status, 403, 'pull alone does not list artifacts (Harbor: artifact:list)');
    const cleaner = await root.createRobot({ name: 'cleaner', level: 'project', duration: -1, permissions: [{ kind: 'project', namespace: 'art', access: [{ resource: 'artifact', action: 'delete' }] }] });
    const asCleaner = new AdminApi(berth.url, { username: cleaner.name, password: cleaner.secret });
    t.equal((await asCleaner.del(`${many}/v5`)).status, 200, 'artifact:delete deletes');
    t.equal((await root.get(`${many}/v5`)).status, 404);
    t.equal(await pullManifest(berth.url, 'art/many', 'v5', auth), 404, 'gone from /v2 too');
    const app = await root.del(`${appPath}/v1`);
    t.equal(app.status, 200);
    t.equal(await pullManifest(berth.url, 'art/team/app', sig.manifest.digest, auth), 404, 'its accessories went with it');
  });
}

t.test('SQLite', (t) => scenario(t, {}));

t.test('Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  await scenario(t, { BERTH_META: 'redis', BERTH_REDIS_URL: redis.url }, true);
});
