// end-11: cross-repository blob mount, and its fallback to an ordinary upload session.
import t from 'tap';
import { berthOnly, targetFor } from '../helpers/conformance-target.js';
import { randomBlob } from '../helpers/oci-fixtures.js';

const target = await targetFor(t);
const reg = target.client;
const source = 'conformance/mount-source';
const blob = randomBlob(2048);
await reg.pushBlob(source, blob.bytes, blob.digest);

t.test('mount ?mount=&from= answers 201 with Location and Docker-Content-Digest, and the blob is then in the target', async (t) => {
  const target = 'conformance/mount-a';
  const r = await reg.startUpload(target, { query: { mount: blob.digest, from: source } });
  t.equal(r.status, 201);
  t.equal(new URL(r.headers.get('location')!, reg.base).pathname, `/v2/${target}/blobs/${blob.digest}`);
  t.equal(r.headers.get('docker-content-digest'), blob.digest);
  const get = await reg.send('GET', `/v2/${target}/blobs/${blob.digest}`);
  t.equal(get.status, 200);
  t.same(get.body, blob.bytes);
  t.equal((await reg.send('HEAD', `/v2/${source}/blobs/${blob.digest}`)).status, 200, 'the source keeps it');
});

t.test('mount of a blob unknown to the registry falls back to a 202 upload session that works', async (t) => {
  const target = 'conformance/mount-b';
  const other = randomBlob(1000);
  const r = await reg.startUpload(target, { query: { mount: other.digest, from: source } });
  t.equal(r.status, 202);
  const location = r.headers.get('location');
  t.ok(location, 'Location of the new session');
  const put = await reg.send('PUT', location!, { query: { digest: other.digest }, headers: { 'content-type': 'application/octet-stream' }, body: other.bytes });
  t.equal(put.status, 201, 'the fallback session takes the upload');
  t.same((await reg.send('GET', `/v2/${target}/blobs/${other.digest}`)).body, other.bytes);
});

t.test('mount from a repository that does not hold the blob answers 202, even when another repository does', async (t) => {
  const target = 'conformance/mount-c';
  const r = await reg.startUpload(target, { query: { mount: blob.digest, from: 'conformance/mount-empty' } });
  t.equal(r.status, 202);
  t.equal((await reg.send('HEAD', `/v2/${target}/blobs/${blob.digest}`)).status, 404, 'nothing was mounted');
  await reg.send('DELETE', r.headers.get('location')!);
});

t.test('mount without from answers 201 when the registry holds the blob', berthOnly('mount without from always opens a session'), async (t) => {
  const target = 'conformance/mount-d';
  const r = await reg.startUpload(target, { query: { mount: blob.digest } });
  t.equal(r.status, 201);
  t.equal(r.headers.get('docker-content-digest'), blob.digest);
  t.same((await reg.send('GET', `/v2/${target}/blobs/${blob.digest}`)).body, blob.bytes);
});

t.test('mount without from of an unknown blob answers 202 with a session', async (t) => {
  const target = 'conformance/mount-e';
  const r = await reg.startUpload(target, { query: { mount: randomBlob(10).digest } });
  t.equal(r.status, 202);
  t.ok(r.headers.get('location'));
});
