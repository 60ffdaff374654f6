// end-2 and end-10: pulling, checking and deleting blobs.
import t from 'tap';
import { berthOnly, expectOciError, targetFor } from '../helpers/conformance-target.js';
import { randomBlob } from '../helpers/oci-fixtures.js';
import { digestOf } from '../../core/digest.js';

const target = await targetFor(t);
const reg = target.client;
const repo = 'conformance/blobs';
const blob = randomBlob(4096);
await reg.pushBlob(repo, blob.bytes, blob.digest);
const unknown = randomBlob(16).digest;

t.test('HEAD a blob answers 200 with Content-Length and Docker-Content-Digest and no body', async (t) => {
  const r = await reg.send('HEAD', `/v2/${repo}/blobs/${blob.digest}`);
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-length'), String(blob.size));
  t.equal(r.headers.get('docker-content-digest'), blob.digest);
  t.equal(r.body.length, 0);
});

t.test('GET a blob returns its exact bytes with Content-Length and Docker-Content-Digest', async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/blobs/${blob.digest}`);
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-length'), String(blob.size));
  t.equal(r.headers.get('docker-content-digest'), blob.digest);
  t.equal(digestOf(r.body), blob.digest);
});

t.test('GET with Range bytes=a-b answers 206 with Content-Range and exactly those bytes', async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/blobs/${blob.digest}`, { headers: { range: 'bytes=100-1123' } });
  t.equal(r.status, 206);
  t.equal(r.headers.get('content-range'), `bytes 100-1123/${blob.size}`);
  t.equal(r.headers.get('content-length'), '1024');
  t.same(r.body, blob.bytes.subarray(100, 1124));
});

t.test('GET with an open-ended Range returns the rest of the blob', async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/blobs/${blob.digest}`, { headers: { range: 'bytes=4000-' } });
  t.equal(r.status, 206);
  t.equal(r.headers.get('content-range'), `bytes 4000-4095/${blob.size}`);
  t.same(r.body, blob.bytes.subarray(4000));
});

t.test('GET with a suffix Range returns the last N bytes', async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/blobs/${blob.digest}`, { headers: { range: 'bytes=-10' } });
  t.equal(r.status, 206);
  t.equal(r.headers.get('content-range'), `bytes 4086-4095/${blob.size}`);
  t.same(r.body, blob.bytes.subarray(4086));
});

t.test('GET with a Range that ends past the blob is clamped to its end', async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/blobs/${blob.digest}`, { headers: { range: 'bytes=4090-9999' } });
  t.equal(r.status, 206);
  t.equal(r.headers.get('content-range'), `bytes 4090-4095/${blob.size}`);
  t.same(r.body, blob.bytes.subarray(4090));
});

t.test(
  'GET with a Range starting past the end answers 416 with Content-Range bytes */size',
  berthOnly('its 416 declares the whole blob in Content-Length and closes the connection short'),
  async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/blobs/${blob.digest}`, { headers: { range: 'bytes=5000-6000' } });
  t.equal(r.status, 416);
  t.equal(r.headers.get('content-range'), `bytes */${blob.size}`);
  },
);

t.test('HEAD an unknown blob answers 404', async (t) => {
  const r = await reg.send('HEAD', `/v2/${repo}/blobs/${unknown}`);
  t.equal(r.status, 404);
});

t.test('a HEAD error announces the length of the GET error body, never a length of its own', berthOnly('distribution sends no error body at all'), async (t) => {
  const head = await reg.send('HEAD', `/v2/${repo}/blobs/${unknown}`);
  const get = await reg.send('GET', `/v2/${repo}/blobs/${unknown}`);
  t.equal(head.body.length, 0, 'no body on HEAD');
  t.equal(head.headers.get('content-length'), String(get.body.length), 'the length GET would send');
});

t.test('GET an unknown blob answers 404 BLOB_UNKNOWN', async (t) => {
  expectOciError(t, await reg.send('GET', `/v2/${repo}/blobs/${unknown}`), 404, 'BLOB_UNKNOWN');
});

t.test('a blob is not readable through a repository it was never pushed to or mounted in', async (t) => {
  t.equal((await reg.send('HEAD', `/v2/conformance/other/blobs/${blob.digest}`)).status, 404);
  expectOciError(t, await reg.send('GET', `/v2/conformance/other/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
});

t.test('a sha512 blob can be pushed and read back under its sha512 digest', async (t) => {
  const bytes = randomBlob(2048).bytes;
  const d512 = digestOf(bytes, 'sha512');
  await reg.pushBlob(repo, bytes, d512);
  const r = await reg.send('GET', `/v2/${repo}/blobs/${d512}`);
  t.equal(r.status, 200);
  t.same(r.body, bytes);
  // spec: Docker-Content-Digest MAY use another algorithm, but MUST match the body.
  const header = r.headers.get('docker-content-digest') ?? '';
  const alg = header.split(':')[0] === 'sha512' ? 'sha512' : 'sha256';
  t.equal(header, digestOf(r.body, alg));
});

t.test('DELETE a blob answers 202, then HEAD and GET answer 404 BLOB_UNKNOWN', async (t) => {
  const b = randomBlob(512);
  await reg.pushBlob(repo, b.bytes, b.digest);
  const del = await reg.send('DELETE', `/v2/${repo}/blobs/${b.digest}`);
  t.equal(del.status, 202);
  t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${b.digest}`)).status, 404);
  expectOciError(t, await reg.send('GET', `/v2/${repo}/blobs/${b.digest}`), 404, 'BLOB_UNKNOWN');
});

t.test('DELETE a blob in one repository leaves it readable in another', async (t) => {
  const b = randomBlob(512);
  await reg.pushBlob(repo, b.bytes, b.digest);
  await reg.pushBlob('conformance/blobs-keep', b.bytes, b.digest);
  t.equal((await reg.send('DELETE', `/v2/${repo}/blobs/${b.digest}`)).status, 202);
  t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${b.digest}`)).status, 404);
  const kept = await reg.send('GET', `/v2/conformance/blobs-keep/blobs/${b.digest}`);
  t.equal(kept.status, 200);
  t.same(kept.body, b.bytes);
});

t.test('DELETE an unknown blob answers 404 BLOB_UNKNOWN', async (t) => {
  expectOciError(t, await reg.send('DELETE', `/v2/${repo}/blobs/${unknown}`), 404, 'BLOB_UNKNOWN');
});
