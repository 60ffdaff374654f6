// end-3 and end-7: pushing and pulling manifests of every kind, by tag and by digest.
import t from 'tap';
import { acceptAllManifests, berthOnly, expectOciError, rawRequest, targetFor } from '../helpers/conformance-target.js';
import {
  artifact,
  blobOf,
  descriptorOf,
  dockerManifest,
  encodeManifest,
  image,
  manifestOf,
  manifestOfSize,
  multiArch,
  ociIndex,
  randomBlob,
  type Image,
} from '../helpers/oci-fixtures.js';
import { MediaType } from '../../core/media-types.js';

const target = await targetFor(t);
const reg = target.client;
const repo = 'conformance/manifests';
const MiB = 1024 * 1024;

const subject = image();
const kinds: [string, Image][] = [
  ['an OCI image manifest', image({ format: 'oci' })],
  ['a Docker schema 2 manifest', image({ format: 'docker' })],
  ['an OCI index', multiArch('oci')],
  ['a Docker manifest list', multiArch('docker')],
  ['an artifact with artifactType and the empty config', artifact({ artifactType: 'application/vnd.example.sbom.v1', blobs: [randomBlob(200, 'application/spdx+json')] })],
  ['an artifact with no blobs (the empty descriptor as its layer)', artifact({ artifactType: 'application/vnd.example.note.v1' })],
  ['a referrer with a subject', artifact({ artifactType: 'application/vnd.example.signature.v1', subject: subject.manifest })],
  ['an OCI index with artifactType', ociIndex([image()], { artifactType: 'application/vnd.example.bundle.v1' })],
];

for (const [i, [kind, img]] of kinds.entries()) {
  t.test(`${kind} pushed by tag is returned byte for byte, with its Content-Type, by tag and by digest`, async (t) => {
    const tag = `kind-${i}`;
    const m = img.manifest;
    const put = await reg.pushImage(repo, img, tag);
    t.equal(put.status, 201);
    t.equal(put.headers.get('docker-content-digest'), m.digest);
    t.ok(put.headers.get('location'), 'Location');
    const fromLocation = await reg.send('GET', put.headers.get('location')!, { headers: { accept: m.mediaType } });
    t.same(fromLocation.body, m.bytes, 'the Location is a pullable manifest URL');

    for (const ref of [tag, m.digest]) {
      const get = await reg.getManifest(repo, ref, m.mediaType);
      t.equal(get.status, 200, `GET ${ref}`);
      t.equal(get.headers.get('content-type'), m.mediaType, 'Content-Type as pushed');
      t.equal(get.headers.get('docker-content-digest'), m.digest);
      t.equal(get.headers.get('content-length'), String(m.bytes.length));
      t.ok(get.body.equals(m.bytes), 'exact bytes');

      const head = await reg.getManifest(repo, ref, acceptAllManifests, 'HEAD');
      t.equal(head.status, 200, `HEAD ${ref}`);
      t.equal(head.headers.get('content-type'), m.mediaType);
      t.equal(head.headers.get('docker-content-digest'), m.digest);
      t.equal(head.headers.get('content-length'), String(m.bytes.length));
      t.equal(head.body.length, 0);
    }
  });
}

t.test('PUT by digest stores the manifest under its digest: 201 with Location and Docker-Content-Digest', async (t) => {
  const img = image();
  const put = await reg.pushImage(repo, img, img.manifest.digest);
  t.equal(put.status, 201);
  t.equal(put.headers.get('docker-content-digest'), img.manifest.digest);
  const get = await reg.getManifest(repo, img.manifest.digest, acceptAllManifests);
  t.ok(get.body.equals(img.manifest.bytes));
});

t.test('PUT by digest with ?tag= sets every tag and answers OCI-Tag', berthOnly('?tag= on a PUT by digest is ignored'), async (t) => {
  const img = image();
  for (const b of img.blobs) await reg.pushBlob(repo, b.bytes, b.digest);
  const put = await reg.putManifest(repo, img.manifest.digest, img.manifest.bytes, img.manifest.mediaType, { tag: ['multi-1', 'multi-2'] });
  t.equal(put.status, 201);
  const ociTags = (put.headers.get('oci-tag') ?? '').split(',').map((s) => s.trim()).filter(Boolean).sort();
  t.same(ociTags, ['multi-1', 'multi-2'], 'OCI-Tag lists each accepted tag');
  for (const tag of ['multi-1', 'multi-2']) {
    const get = await reg.getManifest(repo, tag, acceptAllManifests);
    t.equal(get.status, 200, tag);
    t.equal(get.headers.get('docker-content-digest'), img.manifest.digest);
  }
});

t.test('PUT to an existing tag moves it; the old manifest stays pullable by digest', async (t) => {
  const a = image();
  const b = image();
  await reg.pushImage(repo, a, 'moving');
  await reg.pushImage(repo, b, 'moving');
  const byTag = await reg.getManifest(repo, 'moving', acceptAllManifests);
  t.equal(byTag.headers.get('docker-content-digest'), b.manifest.digest);
  t.ok(byTag.body.equals(b.manifest.bytes));
  const old = await reg.getManifest(repo, a.manifest.digest, acceptAllManifests);
  t.equal(old.status, 200);
  t.ok(old.body.equals(a.manifest.bytes));
});

t.test('PUT again of the same manifest and tag is idempotent', async (t) => {
  const img = image();
  await reg.pushImage(repo, img, 'again');
  const second = await reg.putManifest(repo, 'again', img.manifest.bytes, img.manifest.mediaType);
  t.equal(second.status, 201);
  t.equal(second.headers.get('docker-content-digest'), img.manifest.digest);
});

t.test('PUT referencing a layer the registry does not have answers 400 MANIFEST_BLOB_UNKNOWN and stores nothing', async (t) => {
  const img = image({ layers: 2 });
  for (const b of img.blobs.slice(0, 2)) await reg.pushBlob(repo, b.bytes, b.digest); // config and first layer only
  const put = await reg.putManifest(repo, 'missing-layer', img.manifest.bytes, img.manifest.mediaType);
  expectOciError(t, put, 400, 'MANIFEST_BLOB_UNKNOWN');
  expectOciError(t, await reg.getManifest(repo, 'missing-layer', acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'tag');
  expectOciError(t, await reg.getManifest(repo, img.manifest.digest, acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'digest');
});

t.test('PUT referencing a config the registry does not have answers 400 MANIFEST_BLOB_UNKNOWN', async (t) => {
  const img = image({ layers: 1 });
  await reg.pushBlob(repo, img.blobs[1]!.bytes, img.blobs[1]!.digest);
  const put = await reg.putManifest(repo, 'missing-config', img.manifest.bytes, img.manifest.mediaType);
  expectOciError(t, put, 400, 'MANIFEST_BLOB_UNKNOWN');
});

t.test('PUT referencing a blob that is only in another repository answers 400 MANIFEST_BLOB_UNKNOWN', async (t) => {
  const img = image({ layers: 1 });
  for (const b of img.blobs) await reg.pushBlob('conformance/manifests-elsewhere', b.bytes, b.digest);
  const put = await reg.putManifest(repo, 'elsewhere', img.manifest.bytes, img.manifest.mediaType);
  expectOciError(t, put, 400, 'MANIFEST_BLOB_UNKNOWN');
});

t.test('PUT of an index with a child manifest the repository does not have answers 400 MANIFEST_BLOB_UNKNOWN', async (t) => {
  const index = multiArch('oci');
  await reg.pushImage(repo, index.children[0]!);
  for (const b of index.children[1]!.blobs) await reg.pushBlob(repo, b.bytes, b.digest); // blobs, but not the manifest
  const put = await reg.putManifest(repo, 'missing-child', index.manifest.bytes, index.manifest.mediaType);
  expectOciError(t, put, 400, 'MANIFEST_BLOB_UNKNOWN');
  expectOciError(t, await reg.getManifest(repo, 'missing-child', acceptAllManifests), 404, 'MANIFEST_UNKNOWN');
});

t.test('PUT of a Docker manifest list with a missing child answers 400 MANIFEST_BLOB_UNKNOWN', async (t) => {
  const list = multiArch('docker');
  await reg.pushImage(repo, list.children[1]!);
  const put = await reg.putManifest(repo, 'missing-list-child', list.manifest.bytes, list.manifest.mediaType);
  expectOciError(t, put, 400, 'MANIFEST_BLOB_UNKNOWN');
});

t.test('a manifest whose subject does not exist yet is accepted (spec: push referrers before their subject)', async (t) => {
  const absent = image();
  const ref = artifact({ artifactType: 'application/vnd.example.early.v1', subject: absent.manifest });
  const put = await reg.pushImage(repo, ref);
  t.equal(put.status, 201);
});

t.test('a 4 MiB manifest is accepted and returned byte for byte', async (t) => {
  const img = image({ layers: 1 });
  for (const b of img.blobs) await reg.pushBlob(repo, b.bytes, b.digest);
  const big = manifestOfSize(img, 4 * MiB);
  const put = await reg.putManifest(repo, 'four-mib', big.bytes, big.mediaType);
  t.equal(put.status, 201);
  t.equal(put.headers.get('docker-content-digest'), big.digest);
  const get = await reg.getManifest(repo, 'four-mib', big.mediaType);
  t.ok(get.body.equals(big.bytes));
});

t.test('a manifest over the 4 MiB limit answers 413 and stores nothing', berthOnly('an oversized manifest is a 400 MANIFEST_INVALID'), async (t) => {
  const img = image({ layers: 1 });
  for (const b of img.blobs) await reg.pushBlob(repo, b.bytes, b.digest);
  const big = manifestOfSize(img, 4 * MiB + 1);
  const put = await reg.putManifest(repo, 'too-big', big.bytes, big.mediaType);
  expectOciError(t, put, 413, ['MANIFEST_INVALID', 'SIZE_INVALID']);
  expectOciError(t, await reg.getManifest(repo, 'too-big', acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'tag');
  expectOciError(t, await reg.getManifest(repo, big.digest, acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'digest');
});

t.test('PUT of malformed JSON answers 400 MANIFEST_INVALID', async (t) => {
  const put = await reg.putManifest(repo, 'malformed', '{"schemaVersion": 2, "mediaType": ', MediaType.ociManifest);
  expectOciError(t, put, 400, 'MANIFEST_INVALID');
  expectOciError(t, await reg.getManifest(repo, 'malformed', acceptAllManifests), 404, 'MANIFEST_UNKNOWN');
});

t.test('PUT by a digest that does not match the body answers 400 DIGEST_INVALID and stores nothing', async (t) => {
  const img = image();
  for (const b of img.blobs) await reg.pushBlob(repo, b.bytes, b.digest);
  const other = image().manifest.digest;
  const put = await reg.putManifest(repo, other, img.manifest.bytes, img.manifest.mediaType);
  expectOciError(t, put, 400, 'DIGEST_INVALID');
  expectOciError(t, await reg.getManifest(repo, other, acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'claimed digest');
  expectOciError(t, await reg.getManifest(repo, img.manifest.digest, acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'real digest');
});

t.test('GET an unknown tag or digest answers 404 MANIFEST_UNKNOWN; HEAD answers 404', async (t) => {
  await reg.pushImage(repo, image(), 'known');
  expectOciError(t, await reg.getManifest(repo, 'no-such-tag', acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'tag');
  expectOciError(t, await reg.getManifest(repo, image().manifest.digest, acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'digest');
  t.equal((await reg.getManifest(repo, 'no-such-tag', acceptAllManifests, 'HEAD')).status, 404);
});

t.test('GET a manifest in an unknown repository answers 404', async (t) => {
  expectOciError(t, await reg.getManifest('conformance/never-pushed', 'latest', acceptAllManifests), 404, ['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);
});

t.test('a manifest is not readable through a repository it was not pushed to', async (t) => {
  const img = image();
  await reg.pushImage(repo, img);
  await reg.pushImage('conformance/manifests-other', image(), 'x');
  expectOciError(t, await reg.getManifest('conformance/manifests-other', img.manifest.digest, acceptAllManifests), 404, 'MANIFEST_UNKNOWN');
});

t.test('Content-Type parameters on PUT are ignored: GET answers the bare media type', async (t) => {
  const img = image();
  for (const b of img.blobs) await reg.pushBlob(repo, b.bytes, b.digest);
  const put = await reg.putManifest(repo, 'with-params', img.manifest.bytes, `${img.manifest.mediaType}; charset=utf-8`);
  t.equal(put.status, 201);
  const get = await reg.getManifest(repo, 'with-params', acceptAllManifests);
  t.equal(get.headers.get('content-type'), img.manifest.mediaType);
});

// Accept negotiation. The spec leaves it open; distribution 2.8 is the reference and Berth agrees with it:
// a manifest whose type the client did not list is 404 MANIFEST_UNKNOWN (nothing is converted), except the
// legacy case of a Docker manifest list asked for by tag by a client that accepts only Docker image manifests,
// which gets the list's linux/amd64 image. By digest, a manifest list is returned as stored.
t.test('Accept negotiation: a manifest is returned when its type is among several accepted types', async (t) => {
  const img = image({ format: 'docker' });
  await reg.pushImage(repo, img, 'accept-many');
  const get = await reg.getManifest(repo, 'accept-many', [MediaType.ociManifest, `${MediaType.dockerManifest};q=0.9`, MediaType.ociIndex]);
  t.equal(get.status, 200);
  t.equal(get.headers.get('content-type'), MediaType.dockerManifest);
  t.ok(get.body.equals(img.manifest.bytes));
});

t.test('Accept negotiation: an OCI index asked for with only the OCI image manifest type accepted answers 404 MANIFEST_UNKNOWN', async (t) => {
  const index = multiArch('oci');
  await reg.pushImage(repo, index, 'accept-index');
  expectOciError(t, await reg.getManifest(repo, 'accept-index', MediaType.ociManifest), 404, 'MANIFEST_UNKNOWN', 'by tag');
  expectOciError(t, await reg.getManifest(repo, index.manifest.digest, MediaType.ociManifest), 404, 'MANIFEST_UNKNOWN', 'by digest');
});

t.test('Accept negotiation: an OCI image manifest asked for with only Docker types accepted answers 404 MANIFEST_UNKNOWN', async (t) => {
  const img = image({ format: 'oci' });
  await reg.pushImage(repo, img, 'accept-oci');
  const r = await reg.getManifest(repo, 'accept-oci', [MediaType.dockerManifest, MediaType.dockerManifestList]);
  expectOciError(t, r, 404, 'MANIFEST_UNKNOWN');
});

t.test('Accept negotiation: a Docker manifest list asked for by digest with only the Docker image type accepted is returned as stored', async (t) => {
  const list = multiArch('docker');
  await reg.pushImage(repo, list, 'accept-list');
  const r = await reg.getManifest(repo, list.manifest.digest, MediaType.dockerManifest);
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-type'), MediaType.dockerManifestList);
  t.ok(r.body.equals(list.manifest.bytes));
});

t.test('Accept negotiation: a Docker manifest list asked for by tag with only the Docker image type accepted answers its linux/amd64 image', async (t) => {
  // distribution's legacy rewrite for pre-manifest-list Docker clients; the only conversion it makes.
  const list = multiArch('docker');
  await reg.pushImage(repo, list, 'accept-list-tag');
  const amd64 = list.children[0]!.manifest;
  const r = await reg.getManifest(repo, 'accept-list-tag', MediaType.dockerManifest);
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-type'), MediaType.dockerManifest);
  t.equal(r.headers.get('docker-content-digest'), amd64.digest);
  t.ok(r.body.equals(amd64.bytes));
});

t.test('Accept negotiation: without Accept, or with */*, the manifest is returned as stored', berthOnly('without an explicit OCI type in Accept an OCI manifest is 404'), async (t) => {
  const img = image({ format: 'oci' });
  await reg.pushImage(repo, img, 'no-accept');
  const path = `/v2/${repo}/manifests/no-accept`;
  for (const headers of [{}, { accept: '*/*' }] as Record<string, string>[]) {
    const r = await rawRequest(target.url, 'GET', path, { headers });
    t.equal(r.status, 200, JSON.stringify(headers));
    t.equal(r.headers['content-type'], MediaType.ociManifest);
    t.ok(r.body.equals(img.manifest.bytes));
  }
});

// Shapes the fixtures do not cover elsewhere: a manifest pushed with a Docker type but an OCI layer list, built
// by hand, to show the registry keeps what it is given (types are the client's business).
t.test('a Docker schema 2 manifest with OCI layer media types is stored as pushed', async (t) => {
  const layer = blobOf(randomBlob(300).bytes, 'application/vnd.oci.image.layer.v1.tar+gzip');
  const config = blobOf('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}', 'application/vnd.docker.container.image.v1+json');
  const m = dockerManifest({ config: descriptorOf(config), layers: [descriptorOf(layer)] });
  await reg.pushImage(repo, { manifest: m, blobs: [config, layer], children: [] }, 'mixed');
  const r = await reg.getManifest(repo, 'mixed', acceptAllManifests);
  t.ok(r.body.equals(m.bytes));
});

t.test('compact and pretty serialisations of the same manifest are two manifests with two digests', async (t) => {
  const img = image();
  for (const b of img.blobs) await reg.pushBlob(repo, b.bytes, b.digest);
  const compact = manifestOf(img.manifest.json, MediaType.ociManifest, Buffer.from(JSON.stringify(img.manifest.json)));
  const pretty = manifestOf(img.manifest.json, MediaType.ociManifest, encodeManifest(img.manifest.json));
  t.not(compact.digest, pretty.digest);
  t.equal((await reg.putManifest(repo, compact.digest, compact.bytes, compact.mediaType)).status, 201);
  t.equal((await reg.putManifest(repo, pretty.digest, pretty.bytes, pretty.mediaType)).status, 201);
  t.ok((await reg.getManifest(repo, compact.digest, acceptAllManifests)).body.equals(compact.bytes));
  t.ok((await reg.getManifest(repo, pretty.digest, acceptAllManifests)).body.equals(pretty.bytes));
});
