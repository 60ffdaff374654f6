// TLS in `berth serve`: a certificate from the test's own CA, TLS 1.2+ only, the token realm built as https,
// skopeo pushing and pulling trusting only that CA, the certificate replaced on disk and picked up without a
// restart (a bad pair refused, the old one kept), HTTP/2 beside HTTP/1.1, a plain listener for a proxy in front,
// and X-Forwarded-* believed only from the trusted proxy.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { promisify } from 'node:util';
import t from 'tap';
import { Agent } from 'undici';
import { freePort, startBerth } from '../helpers/berth-process.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { image, writeOciLayout } from '../helpers/oci-fixtures.js';

const run = promisify(execFile);
const ca = await makeTestCa();
t.teardown(() => ca.remove());
const work = await mkdtemp(join(tmpdir(), 'berth-tls-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const certFile = join(work, 'tls.crt');
const keyFile = join(work, 'tls.key');
await ca.issue('berth-first', { certFile, keyFile });

const trusting = new Agent({ connect: { ca: ca.cert } });
t.teardown(() => trusting.close());
const get = (url: string, init: RequestInit = {}) => fetch(url, { ...init, dispatcher: trusting } as RequestInit);

/** The certificate a TLS handshake with 127.0.0.1:port presents, or the handshake's error. */
function handshake(port: number, opts: { maxVersion?: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'; minVersion?: 'TLSv1' | 'TLSv1.1' } = {}): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: ca.cert, ...opts });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.once('error', reject);
  });
}

const plainPort = await freePort();
const berth = await startBerth({
  tlsCa: ca.cert,
  env: {
    BERTH_AUTH: 'token',
    BERTH_ADMIN_PASSWORD: 'Tls-admin-1',
    BERTH_TLS_CERT_FILE: certFile,
    BERTH_TLS_KEY_FILE: keyFile,
    BERTH_TLS_RELOAD_SECONDS: '1',
    BERTH_HTTP_ADDR: `127.0.0.1:${plainPort}`,
    BERTH_TRUSTED_PROXIES: '127.0.0.2',
  },
});
t.teardown(() => berth.stop());

t.test('TLS on addr: the challenge names an https realm; plain HTTP on addr is refused', async (t) => {
  const r = await get(`${berth.url}/v2/`);
  t.equal(r.status, 401);
  t.match(r.headers.get('www-authenticate'), `Bearer realm="https://127.0.0.1:${berth.port}/service/token"`);
  await t.rejects(fetch(`http://127.0.0.1:${berth.port}/v2/`), 'no plain HTTP on the TLS port');
  await t.rejects(fetch(`${berth.url}/v2/`), 'a client that does not trust the CA fails the handshake');
});

t.test('TLS 1.2 and 1.3 are offered, older versions are not', async (t) => {
  t.equal((await handshake(berth.port, { maxVersion: 'TLSv1.2' })).subject.CN, 'berth-first', 'TLS 1.2');
  t.equal((await handshake(berth.port)).subject.CN, 'berth-first', 'TLS 1.3');
  await t.rejects(handshake(berth.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }), 'TLS 1.1 is refused');
});

t.test('skopeo pushes and pulls over TLS trusting only the test CA', async (t) => {
  const certs = join(work, 'certs.d');
  await run('mkdir', ['-p', certs]);
  await copyFile(ca.certFile, join(certs, 'ca.crt'));
  const src = join(work, 'src');
  const img = image({ layers: 2, layerSize: 100_000 });
  await writeOciLayout(src, [{ tag: 'v1', image: img }]);
  const policy = join(work, 'policy.json');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await rm('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  const creds = 'admin:Tls-admin-1';
  const ref = `docker://127.0.0.1:${berth.port}/library/tls:v1`;
  const env = { ...process.env, REGISTRY_AUTH_FILE: join(work, 'auth.json') };
  await writeFile(env.REGISTRY_AUTH_FILE, '{"auths":{}}');
  await run('skopeo', ['--policy', policy, 'copy', '--quiet', '--dest-cert-dir', certs, '--dest-creds', creds, `oci:${src}:v1`, ref], { env });
  const { stdout } = await run('skopeo', ['--policy', policy, 'inspect', '--raw', '--cert-dir', certs, '--creds', creds, ref], { env });
  t.ok(Buffer.from(stdout).equals(img.manifest.bytes), 'the manifest comes back byte for byte over TLS');
  await t.rejects(run('skopeo', ['--policy', policy, 'inspect', '--raw', '--creds', creds, ref], { env }), /certificate|x509/, 'without the CA skopeo refuses the certificate');
});

t.test('a renewed certificate is served without a restart; a broken pair is refused and the old one kept', async (t) => {
  t.equal((await handshake(berth.port)).subject.CN, 'berth-first');
  await ca.issue('berth-renewed', { certFile, keyFile });
  const deadline = Date.now() + 10_000;
  let cn = '';
  while (Date.now() < deadline && (cn = String((await handshake(berth.port)).subject.CN)) !== 'berth-renewed') await new Promise((r) => setTimeout(r, 200));
  t.equal(cn, 'berth-renewed', 'the new certificate is presented');

  // A key that belongs to another certificate: not applied.
  const other = await ca.issue('berth-other');
  await writeFile(keyFile, await readFile(other.keyFile));
  await new Promise((r) => setTimeout(r, 2500));
  t.equal((await handshake(berth.port)).subject.CN, 'berth-renewed', 'the previous certificate stays in use');
  t.match(berth.output(), /TLS certificate change not applied/, 'the refusal is logged');
  t.equal((await get(`${berth.url}/healthz`)).status, 200, 'and the registry keeps serving');
  // Repaired: the matching pair goes back on disk.
  await ca.issue('berth-repaired', { certFile, keyFile });
  const until = Date.now() + 10_000;
  while (Date.now() < until && (cn = String((await handshake(berth.port)).subject.CN)) !== 'berth-repaired') await new Promise((r) => setTimeout(r, 200));
  t.equal(cn, 'berth-repaired', 'a good pair after a bad one is applied');
});

/** A GET on the plain listener from `localAddress`, with extra headers; status and WWW-Authenticate. */
function plainGet(path: string, localAddress: string, headers: Record<string, string>): Promise<{ status: number; challenge: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: plainPort, path, localAddress, headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, challenge: String(res.headers['www-authenticate'] ?? '') });
    });
    req.once('error', reject);
    req.end();
  });
}

t.test('plain listener for a proxy: X-Forwarded-Proto/Host believed only from the trusted proxy', async (t) => {
  const forged = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'registry.example.com' };
  const direct = await plainGet('/v2/', '127.0.0.1', forged);
  t.equal(direct.status, 401);
  t.match(direct.challenge, `realm="http://127.0.0.1:${plainPort}/service/token"`, 'from an untrusted address the headers are ignored');
  const proxied = await plainGet('/v2/', '127.0.0.2', forged);
  t.match(proxied.challenge, 'realm="https://registry.example.com/service/token"', 'from the trusted proxy the client-facing URL is used');
});

t.test('HTTP/2 on the TLS listener, HTTP/1.1 still served', async (t) => {
  const port = await freePort();
  const h2 = await startBerth({
    port,
    tlsCa: ca.cert,
    env: { BERTH_TLS_CERT_FILE: certFile, BERTH_TLS_KEY_FILE: keyFile, BERTH_HTTP2: 'true' },
  });
  t.teardown(() => h2.stop());
  const session = h2connect(h2.url, { ca: ca.cert });
  t.teardown(() => session.close());
  const { status, version } = await new Promise<{ status: number; version: string }>((resolve, reject) => {
    const req = session.request({ ':path': '/v2/', ':method': 'GET' });
    req.once('response', (headers) => {
      resolve({ status: Number(headers[':status']), version: String(headers['docker-distribution-api-version']) });
      req.resume();
    });
    req.once('error', reject);
    req.end();
  });
  t.equal(status, 200, 'GET /v2/ over HTTP/2');
  t.equal(version, 'registry/2.0');
  t.equal((await get(`${h2.url}/v2/`)).status, 200, 'and over HTTP/1.1');
});

t.test('a certificate file that cannot be read stops the start with a clear message', async (t) => {
  const bad = startBerth({ tlsCa: ca.cert, env: { BERTH_TLS_CERT_FILE: join(work, 'missing.crt'), BERTH_TLS_KEY_FILE: keyFile } });
  await t.rejects(bad, /berth: cannot read .*missing\.crt: ENOENT/);
  const half = startBerth({ env: { BERTH_TLS_CERT_FILE: certFile } });
  await t.rejects(half, /tls_key_file \(BERTH_TLS_KEY_FILE\): tls_cert_file and tls_key_file go together/);
});
