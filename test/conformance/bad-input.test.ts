// Bad input, from careless and hostile clients alike: always a 4xx with an OCI error body, never a 5xx, and
// nothing stored. Names and traversal attempts go through node:http because fetch would normalise the path.
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { acceptAllManifests, asReply, berthOnly, expectOciError, rawRequest, targetFor } from '../helpers/conformance-target.js';
import { image, randomBlob } from '../helpers/oci-fixtures.js';
import { digestOf } from '../../core/digest.js';
import { MediaType } from '../../core/media-types.js';
import { parseRepositoryName } from '../../core/names.js';

const target = await targetFor(t);
const reg = target.client;
const repo = 'conformance/bad-input';
const md5 = 'md5:' + 'a'.repeat(32);
const raw = async (method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer } = {}) =>
  asReply(await rawRequest(target.url, method, path, opts));

await reg.pushImage(repo, image(), 'present');
const good = image();
for (const b of good.blobs) await reg.pushBlob(repo, b.bytes, b.digest);

function validName(name: string): boolean {
  try {
    parseRepositoryName(name);
    return true;
  } catch {
    return false;
  }
}

async function catalog(): Promise<string[]> {
  return (await reg.send('GET', '/v2/_catalog')).json<{ repositories: string[] }>().repositories;
}

const invalidNames: [string, string][] = [
  ['uppercase', 'Conformance/Upper'],
  ['a ".." component', 'conformance/../etc'],
  ['a leading ".." component', '../etc'],
  ['a percent-encoded ".." component', 'conformance/%2e%2e/etc'],
  ['an uppercase percent-encoded ".."', 'conformance/%2E%2E/%2E%2E/etc'],
  ['an encoded slash', 'conformance%2Fescaped'],
  ['an encoded backslash', 'conformance%5C..%5Cetc'],
  ['an empty component', 'conformance//empty'],
  ['a trailing separator', 'conformance/trailing-'],
  ['more than 255 characters', `conformance/${'a'.repeat(250)}`],
];

t.test('invalid repository names answer 400 NAME_INVALID on every endpoint family, and nothing is stored', berthOnly('an invalid name falls through the router: 404 text/plain'), async (t) => {
  const blob = randomBlob(64);
  for (const [what, name] of invalidNames) {
    const cases: [string, string, { headers?: Record<string, string>; body?: Buffer | string }?][] = [
      ['GET', `/v2/${name}/tags/list`],
      ['POST', `/v2/${name}/blobs/uploads/`],
      ['POST', `/v2/${name}/blobs/uploads/?digest=${blob.digest}`, { headers: { 'content-type': 'application/octet-stream' }, body: blob.bytes }],
      ['GET', `/v2/${name}/blobs/${blob.digest}`],
      ['PUT', `/v2/${name}/manifests/latest`, { headers: { 'content-type': good.manifest.mediaType }, body: good.manifest.bytes }],
      ['GET', `/v2/${name}/manifests/latest`],
      ['GET', `/v2/${name}/referrers/${good.manifest.digest}`],
    ];
    for (const [method, path, opts] of cases) {
      const r = await raw(method, path, opts);
      expectOciError(t, r, 400, 'NAME_INVALID', `${what}: ${method} ${path.slice(0, 60)}`);
    }
  }
  t.same((await catalog()).filter((r) => !validName(r)), [], 'no repository with an invalid name was created');
});

t.test('a repository name of exactly 255 characters is valid', async (t) => {
  const name = `c/${'a'.repeat(253)}`;
  t.equal(name.length, 255);
  const b = randomBlob(32);
  await reg.pushBlob(name, b.bytes, b.digest);
  t.equal((await reg.send('HEAD', `/v2/${name}/blobs/${b.digest}`)).status, 200);
});

t.test('an unsupported digest algorithm (md5) answers 400 DIGEST_INVALID wherever a digest is taken', berthOnly('an md5 manifest reference is a 500; POST ?digest=md5 opens a session'), async (t) => {
  const b = randomBlob(100);
  const mono = await reg.startUpload(repo, { query: { digest: md5 }, headers: { 'content-type': 'application/octet-stream' }, body: b.bytes });
  expectOciError(t, mono, 400, 'DIGEST_INVALID', 'POST ?digest=md5');
  expectOciError(t, await reg.send('GET', `/v2/${repo}/blobs/${md5}`), 400, 'DIGEST_INVALID', 'GET blob');
  t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${md5}`)).status, 400, 'HEAD blob');
  expectOciError(t, await reg.send('DELETE', `/v2/${repo}/blobs/${md5}`), 400, 'DIGEST_INVALID', 'DELETE blob');
  expectOciError(t, await reg.getManifest(repo, md5, MediaType.ociManifest), 400, 'DIGEST_INVALID', 'GET manifest');
  expectOciError(t, await reg.putManifest(repo, md5, good.manifest.bytes, good.manifest.mediaType), 400, 'DIGEST_INVALID', 'PUT manifest');
  expectOciError(t, await reg.send('GET', `/v2/${repo}/referrers/${md5}`), 400, 'DIGEST_INVALID', 'referrers');
});

t.test('an unsupported digest algorithm (md5) closing an upload answers 400 DIGEST_INVALID and stores nothing', async (t) => {
  const b = randomBlob(100);
  const post = await reg.startUpload(repo);
  const put = await reg.send('PUT', post.headers.get('location')!, { query: { digest: md5 }, headers: { 'content-type': 'application/octet-stream' }, body: b.bytes });
  expectOciError(t, put, 400, 'DIGEST_INVALID', 'PUT ?digest=md5');
  t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${b.digest}`)).status, 404, 'no blob under the real digest');
});

t.test('a PUT whose bytes do not match its digest answers 400 DIGEST_INVALID and cancels the upload', async (t) => {
  const b = randomBlob(100);
  const other = randomBlob(100);
  const post = await reg.startUpload(repo);
  const location = post.headers.get('location')!;
  const put = await reg.send('PUT', location, { query: { digest: other.digest }, headers: { 'content-type': 'application/octet-stream' }, body: b.bytes });
  expectOciError(t, put, 400, 'DIGEST_INVALID', 'PUT with the wrong digest');
  expectOciError(t, await reg.send('GET', location), 404, 'BLOB_UPLOAD_UNKNOWN', 'the session is gone, its bytes with it');
  t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${b.digest}`)).status, 404, 'nothing stored under the real digest');
  t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${other.digest}`)).status, 404, 'nothing stored under the claimed one');
});

t.test('a manifest whose descriptor sizes lie answers 400 MANIFEST_INVALID and stores nothing', berthOnly('distribution 2.8 accepts the wrong size'), async (t) => {
  const img = image();
  for (const b of img.blobs) await reg.pushBlob(repo, b.bytes, b.digest);
  const json = JSON.parse(img.manifest.bytes.toString()) as { layers: { size: number }[] };
  json.layers[0]!.size += 1;
  const body = Buffer.from(JSON.stringify(json));
  const put = await reg.putManifest(repo, 'lying-size', body, img.manifest.mediaType);
  expectOciError(t, put, 400, 'MANIFEST_INVALID', 'PUT manifest');
  t.equal((await reg.getManifest(repo, 'lying-size', img.manifest.mediaType)).status, 404, 'no tag');
});

t.test('malformed sha256 digests answer 400 DIGEST_INVALID', async (t) => {
  for (const bad of ['sha256:abc', 'sha256:' + 'A'.repeat(64), 'sha256:' + 'g'.repeat(64), 'sha256:' + 'a'.repeat(65), 'sha512:' + 'a'.repeat(64)]) {
    expectOciError(t, await reg.send('GET', `/v2/${repo}/blobs/${bad}`), 400, 'DIGEST_INVALID', `GET blob ${bad.slice(0, 20)}`);
    const post = await reg.startUpload(repo);
    const put = await reg.send('PUT', post.headers.get('location')!, { query: { digest: bad }, body: 'x' });
    expectOciError(t, put, 400, 'DIGEST_INVALID', `PUT ?digest=${bad.slice(0, 20)}`);
  }
});

t.test('malformed manifests answer 400 MANIFEST_INVALID and nothing is stored', async (t) => {
  const config = good.manifest.json.config;
  const layers = good.manifest.json.layers;
  const bodies: [string, string, string[]?][] = [
    ['an empty body', ''],
    ['not JSON', 'not json at all'],
    ['truncated JSON', good.manifest.bytes.subarray(0, 50).toString()],
    ['a JSON array', '[]'],
    ['a JSON string', '"manifest"'],
    ['layers that are not an array', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: 'nope' })],
    ['a config that is not a descriptor', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: 'nope', layers })],
    ['a descriptor without a digest', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: config.mediaType, size: config.size }, layers }), ['MANIFEST_INVALID', 'DIGEST_INVALID']],
  ];
  for (const [i, [what, body, codes]] of bodies.entries()) {
    const tag = `malformed-${i}`;
    expectOciError(t, await reg.putManifest(repo, tag, body, MediaType.ociManifest), 400, codes ?? 'MANIFEST_INVALID', what);
    t.equal((await reg.getManifest(repo, tag, MediaType.ociManifest, 'HEAD')).status, 404, `${what}: no tag`);
  }
});

t.test('manifests that are JSON but not valid for their type answer 400 MANIFEST_INVALID', berthOnly('schemaVersion 1 is a 500, a negative size is accepted'), async (t) => {
  const config = good.manifest.json.config;
  const layers = good.manifest.json.layers;
  const bodies: [string, string][] = [
    ['schemaVersion 1 under the OCI type', JSON.stringify({ schemaVersion: 1, mediaType: MediaType.ociManifest, config, layers })],
    ['a negative size', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: { ...config, size: -1 }, layers })],
    ['a mediaType field that contradicts the Content-Type', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config, layers })],
  ];
  for (const [i, [what, body]] of bodies.entries()) {
    expectOciError(t, await reg.putManifest(repo, `invalid-${i}`, body, MediaType.ociManifest), 400, 'MANIFEST_INVALID', what);
    t.equal((await reg.getManifest(repo, `invalid-${i}`, MediaType.ociManifest, 'HEAD')).status, 404, `${what}: no tag`);
  }
});

t.test('a descriptor with a malformed digest answers 400 (MANIFEST_INVALID or DIGEST_INVALID)', berthOnly('it is a 500'), async (t) => {
  const body = JSON.stringify({ ...good.manifest.json, layers: [{ ...good.manifest.json.layers[0], digest: 'sha256:nothex' }] });
  expectOciError(t, await reg.putManifest(repo, 'bad-descriptor', body, MediaType.ociManifest), 400, ['MANIFEST_INVALID', 'DIGEST_INVALID']);
});

t.test('a tag of 128 characters, the longest the grammar allows, is valid', async (t) => {
  const tag = 'T' + 'a_.-'.repeat(31) + 'abc';
  t.equal(tag.length, 128);
  const put = await reg.putManifest(repo, tag, good.manifest.bytes, good.manifest.mediaType);
  t.equal(put.status, 201);
  t.equal((await reg.getManifest(repo, tag, good.manifest.mediaType)).status, 200);
  t.equal((await reg.send('DELETE', `/v2/${repo}/manifests/${good.manifest.digest}`)).status, 202, 'clean up for the tag list below');
});

t.test('invalid tags answer 400 and store nothing', berthOnly('an invalid tag falls through the router: 404'), async (t) => {
  for (const tag of ['-leading-dash', '.leading-dot', 'a'.repeat(129), 'has%20space']) {
    expectOciError(t, await raw('PUT', `/v2/${repo}/manifests/${tag}`, { headers: { 'content-type': good.manifest.mediaType }, body: good.manifest.bytes }), 400, ['MANIFEST_INVALID', 'TAG_INVALID'], tag.slice(0, 20));
  }
  const tags = (await reg.send('GET', `/v2/${repo}/tags/list`)).json<{ tags: string[] }>().tags;
  t.same(tags, ['present']);
});

t.test('GET and HEAD of a reference that breaks the tag grammar answer 404 MANIFEST_UNKNOWN (spec: not found)', async (t) => {
  for (const tag of ['-leading-dash', '.leading-dot', 'a'.repeat(129)]) {
    expectOciError(t, await raw('GET', `/v2/${repo}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN', `GET ${tag.slice(0, 20)}`);
    t.equal((await raw('HEAD', `/v2/${repo}/manifests/${tag}`)).status, 404, `HEAD ${tag.slice(0, 20)}`);
  }
});

async function sessionWithChunk(size: number): Promise<{ location: string; bytes: Buffer }> {
  const post = await reg.startUpload(repo);
  const bytes = randomBlob(size).bytes;
  const r = await reg.send('PATCH', post.headers.get('location')!, {
    headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${size - 1}` },
    body: bytes,
  });
  if (r.status !== 202) throw new Error(`PATCH: ${r.status} ${r.text()}`);
  return { location: r.headers.get('location')!, bytes };
}

async function expectOffsetKept(t: Test, location: string, end: number): Promise<void> {
  const status = await reg.send('GET', location);
  t.equal(status.status, 204, 'the session survives');
  t.equal(status.headers.get('range'), `0-${end}`, 'at its old offset');
}

t.test('a PATCH whose Content-Length disagrees with its Content-Range answers 400 SIZE_INVALID or 416, and keeps the session', berthOnly('the chunk is accepted as if the range were right'), async (t) => {
  const { location, bytes } = await sessionWithChunk(1000);
  const more = randomBlob(500).bytes;
  const r = await reg.send('PATCH', location, {
    headers: { 'content-type': 'application/octet-stream', 'content-range': '1000-1999' },
    body: more, // 500 bytes for a 1000-byte range
  });
  expectOciError(t, r, [400, 416], ['SIZE_INVALID', 'RANGE_INVALID', 'BLOB_UPLOAD_INVALID']);
  await expectOffsetKept(t, location, 999);
  const all = Buffer.concat([bytes, more]);
  const rest = await reg.send('PATCH', location, { headers: { 'content-type': 'application/octet-stream', 'content-range': '1000-1499' }, body: more });
  t.equal(rest.status, 202, 'the right chunk still goes in');
  t.equal((await reg.send('PUT', rest.headers.get('location')!, { query: { digest: digestOf(all) } })).status, 201);
});

t.test('a malformed Content-Range answers 400 BLOB_UPLOAD_INVALID or 416, and keeps the session', berthOnly('a malformed Content-Range is ignored or ends the session (404 BLOB_UPLOAD_INVALID)'), async (t) => {
  const { location } = await sessionWithChunk(100);
  for (const range of ['abc', '200-100', '100-', '-99', '100-199-300', '0x64-0xc7']) {
    const r = await reg.send('PATCH', location, { headers: { 'content-type': 'application/octet-stream', 'content-range': range }, body: randomBlob(100).bytes });
    expectOciError(t, r, [400, 416], ['BLOB_UPLOAD_INVALID', 'RANGE_INVALID', 'SIZE_INVALID'], `Content-Range: ${range}`);
  }
  await expectOffsetKept(t, location, 99);
});

t.test('a body cut short of its Content-Length leaves no blob, and the registry keeps serving', async (t) => {
  const b = randomBlob(20_000);
  const post = await reg.startUpload(repo);
  const u = reg.url(post.headers.get('location')!, { digest: b.digest });
  // Declare the whole blob, send a third of it, then hang up.
  await new Promise<void>((resolve) => {
    const sock = connect(Number(u.port), u.hostname, () => {
      sock.write(
        `PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/octet-stream\r\n` +
          `Content-Length: ${b.size}\r\nConnection: close\r\n\r\n`,
      );
      sock.write(b.bytes.subarray(0, 7000), () => setTimeout(() => sock.destroy(), 100));
    });
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
  });
  await new Promise((r) => setTimeout(r, 200));
  t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${b.digest}`)).status, 404, 'no blob');
  t.equal((await reg.send('GET', '/v2/')).status, 200, 'still serving');
  // A later complete upload of the same blob works.
  await reg.pushBlob(repo, b.bytes, b.digest);
  t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${b.digest}`)).status, 200);
});

t.test('a manifest body cut short of its Content-Length stores nothing', async (t) => {
  const img = image();
  for (const b of img.blobs) await reg.pushBlob(repo, b.bytes, b.digest);
  await new Promise<void>((resolve) => {
    const u = new URL(target.url);
    const sock = connect(Number(u.port), u.hostname, () => {
      sock.write(
        `PUT /v2/${repo}/manifests/cut-short HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: ${img.manifest.mediaType}\r\n` +
          `Content-Length: ${img.manifest.bytes.length}\r\nConnection: close\r\n\r\n`,
      );
      sock.write(img.manifest.bytes.subarray(0, 100), () => setTimeout(() => sock.destroy(), 100));
    });
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
  });
  await new Promise((r) => setTimeout(r, 200));
  t.equal((await reg.getManifest(repo, 'cut-short', acceptAllManifests, 'HEAD')).status, 404, 'no tag');
  t.equal((await reg.getManifest(repo, img.manifest.digest, acceptAllManifests, 'HEAD')).status, 404, 'no manifest');
});

t.test('a non-numeric or negative n answers 400 on _catalog', berthOnly('a bad n is ignored'), async (t) => {
  for (const n of ['abc', '-1', '1.5']) {
    expectOciError(t, await reg.send('GET', '/v2/_catalog', { query: { n } }), 400, ['PAGINATION_NUMBER_INVALID', 'UNSUPPORTED'], `n=${n}`);
  }
});

t.test('a non-numeric or negative n answers 400 on the tags list', berthOnly('a bad n is ignored'), async (t) => {
  for (const n of ['abc', '-1']) {
    expectOciError(t, await reg.send('GET', `/v2/${repo}/tags/list`, { query: { n } }), 400, ['PAGINATION_NUMBER_INVALID', 'UNSUPPORTED'], `n=${n}`);
  }
});

// spec "Error Codes": the code is one of the spec's list; what it does not say goes in detail.
t.test('range and paging refusals carry only the spec\'s error codes', berthOnly('distribution uses its own RANGE_INVALID / PAGINATION_NUMBER_INVALID'), async (t) => {
  const blob = good.blobs[0]!;
  const past = await reg.send('GET', `/v2/${repo}/blobs/${blob.digest}`, { headers: { Range: `bytes=${blob.bytes.length + 10}-` } });
  expectOciError(t, past, 416, 'UNSUPPORTED', 'a GET range past the blob');
  t.match(past.json<{ errors: { detail: unknown }[] }>().errors[0]!.detail, { reason: 'range not satisfiable' }, 'the reason is in detail');
  const start = await reg.send('POST', `/v2/${repo}/blobs/uploads/`);
  const location = start.headers.get('location')!;
  const skipped = await reg.send('PATCH', location, { headers: { 'Content-Range': '5-9', 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(5) });
  expectOciError(t, skipped, 416, 'BLOB_UPLOAD_INVALID', 'a chunk that skips ahead');
  expectOciError(t, await reg.send('GET', '/v2/_catalog', { query: { n: 'ten' } }), 400, 'UNSUPPORTED', 'n=ten');
});

t.test('an unknown endpoint under /v2/ answers 404 with an OCI error body', berthOnly('unknown routes answer 404 text/plain'), async (t) => {
  for (const path of [`/v2/${repo}/nonsense`, `/v2/${repo}/blobs/`, '/v2/_nothing/here']) {
    expectOciError(t, await raw('GET', path), 404, '*', path);
  }
});

t.test('a method an endpoint does not have answers 405 UNSUPPORTED (or 404) with an OCI error body', berthOnly('answers 404 text/plain'), async (t) => {
  for (const [method, path] of [['PATCH', `/v2/${repo}/manifests/present`], ['POST', `/v2/${repo}/tags/list`], ['PUT', `/v2/${repo}/blobs/${good.blobs[0]!.digest}`]] as const) {
    expectOciError(t, await raw(method, path), [404, 405], ['UNSUPPORTED', '*'], `${method} ${path}`);
  }
});

t.test('after all the bad input, every stored repository name is valid and the registry still serves', async (t) => {
  t.same((await catalog()).filter((r) => !validName(r)), []);
  t.equal((await reg.send('GET', '/v2/')).status, 200);
});

