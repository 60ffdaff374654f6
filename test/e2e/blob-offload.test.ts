// blob_offload: nginx — a real nginx on a free loopback port in front of a real token-auth `berth serve`: Berth
// authorizes each blob GET and answers X-Accel-Redirect, nginx sends the file from the data directory. Pulls come
// back byte-exact; refused pulls stay refused; the internal location is unreachable from outside.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { nginxBin, prepareNginx } from '../../bench/lib/nginx.js';
import { admin, AdminApi, bearer, http, startTokenBerth, token, type Creds } from '../auth/access.js';
import { berthBin, childEnv, freePort } from '../helpers/berth-process.js';
import { runTool, startDaemon } from '../helpers/daemon.js';

const prefix = '/_berth/blobs/';
const berth = await startTokenBerth(t, { BERTH_BLOB_OFFLOAD: 'nginx', BERTH_BLOB_OFFLOAD_PREFIX: prefix, BERTH_TRUSTED_PROXIES: '127.0.0.1' });
const nginxDir = await mkdtemp(join(tmpdir(), 'berth-nginx-'));
const port = await freePort();
const args = await prepareNginx({ port, upstreamPort: berth.port, dataDir: berth.dataDir, prefix, dir: nginxDir });
const front = `http://127.0.0.1:${port}`;
const nginx = await startDaemon('nginx', nginxBin, args, async () => (await fetch(`${front}/healthz`).catch(() => undefined))?.status === 200, 15_000);
t.teardown(async () => {
  await nginx.stop();
  await rm(nginxDir, { recursive: true, force: true });
});

const api = new AdminApi(berth.url, admin);
await api.createProject('team', false);
const outsider: Creds = { username: 'outsider', password: 'Outsider-pass-1' };
await api.createUser(outsider.username, outsider.password);

// 3 MiB and a bit: more than one of Berth's 4 MiB reads would be needed were it sending the file itself.
const blob = randomBytes(3 * 1024 * 1024 + 12_345);
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
const rw = bearer(await token(front, admin, ['repository:team/app:pull,push']));

t.test('a blob pushed through nginx is stored', async (t) => {
  const post = await fetch(`${front}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: { Authorization: rw } });
  t.equal(post.status, 202);
  const location = new URL(post.headers.get('location')!, front);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', headers: { Authorization: rw, 'Content-Type': 'application/octet-stream' }, body: blob });
  t.equal(put.status, 201, await put.text());
  t.equal(put.headers.get('docker-content-digest'), digest);
});

t.test('a pull through nginx returns the pushed bytes, and nginx sent them', async (t) => {
  const r = await fetch(`${front}/v2/team/app/blobs/${digest}`, { headers: { Authorization: rw } });
  t.equal(r.status, 200);
  const body = Buffer.from(await r.arrayBuffer());
  t.equal(body.length, blob.length);
  t.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, digest, 'digest of the bytes served');
  t.equal(r.headers.get('docker-content-digest'), digest);
  t.equal(r.headers.get('etag'), `"${digest}"`);
  t.equal(r.headers.get('content-type'), 'application/octet-stream');
  t.equal(r.headers.get('x-accel-redirect'), null, 'nginx does not show the internal path');
  t.equal(r.headers.get('server')?.startsWith('nginx'), true);

  // Berth itself answered with the file's internal path and no bytes.
  const direct = await fetch(`${berth.url}/v2/team/app/blobs/${digest}`, { headers: { Authorization: rw } });
  t.equal(direct.status, 200);
  t.equal(direct.headers.get('x-accel-redirect'), `${prefix}sha256/${digest.slice(7, 9)}/${digest.slice(7)}`);
  t.equal((await direct.arrayBuffer()).byteLength, 0);
});

t.test('a range through nginx is the slice', async (t) => {
  const r = await fetch(`${front}/v2/team/app/blobs/${digest}`, { headers: { Authorization: rw, Range: 'bytes=1000-2999999' } });
  t.equal(r.status, 206);
  t.equal(r.headers.get('content-range'), `bytes 1000-2999999/${blob.length}`);
  t.ok(Buffer.from(await r.arrayBuffer()).equals(blob.subarray(1000, 3_000_000)));
  const bad = await fetch(`${front}/v2/team/app/blobs/${digest}`, { headers: { Authorization: rw, Range: `bytes=${blob.length + 10}-` } });
  t.equal(bad.status, 416);
  await bad.arrayBuffer();
});

t.test('HEAD through nginx is answered by Berth', async (t) => {
  const r = await fetch(`${front}/v2/team/app/blobs/${digest}`, { method: 'HEAD', headers: { Authorization: rw } });
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-length'), String(blob.length));
  t.equal(r.headers.get('docker-content-digest'), digest);
});

t.test('a refused pull through nginx is refused, with no blob bytes', async (t) => {
  const anonymous = await http(`${front}/v2/team/app/blobs/${digest}`);
  t.equal(anonymous.status, 401);
  t.match(anonymous.headers.get('www-authenticate'), /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/service\/token"/);
  t.equal(anonymous.json.errors[0].code, 'UNAUTHORIZED');

  // A valid token that grants nothing on team/app (no membership in a private project).
  const none = await token(front, outsider, ['repository:team/app:pull']);
  const refused = await http(`${front}/v2/team/app/blobs/${digest}`, { headers: { Authorization: bearer(none) } });
  t.equal(refused.status, 403);
  t.equal(refused.json.errors[0].code, 'DENIED');
  t.notOk(refused.text.length >= blob.length, 'an error body, not the blob');

  const unknown = await http(`${front}/v2/team/app/blobs/sha256:${'0'.repeat(64)}`, { headers: { Authorization: rw } });
  t.equal(unknown.status, 404);
  t.equal(unknown.json.errors[0].code, 'BLOB_UNKNOWN');
});

t.test("nginx's internal location cannot be asked for directly", async (t) => {
  const r = await fetch(`${front}${prefix}sha256/${digest.slice(7, 9)}/${digest.slice(7)}`);
  t.equal(r.status, 404);
  t.ok((await r.arrayBuffer()).byteLength < 1000);
});

t.test('blob_offload: nginx with s3 storage is refused at start', async (t) => {
  const r = await runTool(process.execPath, [berthBin, 'serve'], {
    env: childEnv({ BERTH_STORAGE: 's3', BERTH_S3_BUCKET: 'b', BERTH_BLOB_OFFLOAD: 'nginx', BERTH_ADDR: '127.0.0.1:0', BERTH_AUTH: 'none' }),
  });
  t.not(r.code, 0);
  t.match(r.out, /blob_offload.*storage must be fs/);
});
