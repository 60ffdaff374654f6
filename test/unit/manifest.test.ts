import t from 'tap';
import { parseManifest, isForeignLayer } from '../../core/manifest.js';
import { digestOf } from '../../core/digest.js';
import { MediaType } from '../../core/media-types.js';

const d1 = digestOf('config');
const d2 = digestOf('layer');
const enc = (o: unknown) => Buffer.from(JSON.stringify(o));
const image = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d1, size: 6 },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d2, size: 5 }],
  ...extra,
});

t.test('an OCI image manifest yields config, layers and the config type as artifactType', async (t) => {
  const m = parseManifest(enc(image()), MediaType.ociManifest);
  t.equal(m.mediaType, MediaType.ociManifest);
  t.equal(m.config?.digest, d1);
  t.same(m.layers.map((l) => l.digest), [d2]);
  t.equal(m.artifactType, 'application/vnd.oci.image.config.v1+json');
});

t.test('an artifact keeps its artifactType and subject', async (t) => {
  const subject = { mediaType: MediaType.ociManifest, digest: digestOf('s'), size: 1 };
  const m = parseManifest(enc(image({ artifactType: 'application/vnd.example.sbom', subject })), undefined);
  t.equal(m.artifactType, 'application/vnd.example.sbom');
  t.equal(m.subject?.digest, subject.digest);
});

t.test('an index yields its children; media type inferred from the body when Content-Type is generic', async (t) => {
  const idx = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{ mediaType: MediaType.ociManifest, digest: d1, size: 10, platform: { os: 'linux', architecture: 'amd64' } }] };
  const m = parseManifest(enc(idx), 'application/json');
  t.equal(m.mediaType, MediaType.ociIndex);
  t.same(m.manifests.map((c) => c.digest), [d1]);
});

t.test('invalid manifests are MANIFEST_INVALID', async (t) => {
  const cases: [string, Buffer, string | undefined][] = [
    ['not JSON', Buffer.from('{nope'), MediaType.ociManifest],
    ['an array', enc([]), MediaType.ociManifest],
    ['schema 1', enc({ schemaVersion: 1, name: 'x' }), MediaType.dockerSchema1],
    ['schemaVersion missing', enc({ config: {}, layers: [] }), MediaType.ociManifest],
    ['mediaType disagrees with Content-Type', enc(image()), MediaType.dockerManifest],
    ['bad layer digest', enc(image({ layers: [{ mediaType: 'x', digest: 'sha256:zz', size: 1 }] })), MediaType.ociManifest],
    ['negative size', enc(image({ layers: [{ mediaType: 'x', digest: d2, size: -1 }] })), MediaType.ociManifest],
    ['no config', enc({ schemaVersion: 2, mediaType: MediaType.ociManifest, layers: [] }), MediaType.ociManifest],
    ['index without manifests array', enc({ schemaVersion: 2, mediaType: MediaType.ociIndex }), MediaType.ociIndex],
    ['annotations not strings', enc(image({ annotations: { a: 1 } })), MediaType.ociManifest],
    ['unknown shape', enc({ schemaVersion: 2 }), 'application/json'],
  ];
  for (const [name, bytes, ct] of cases) t.throws(() => parseManifest(bytes, ct), { code: 'MANIFEST_INVALID' }, name);
});

t.test('foreign layers with URLs are recognised', async (t) => {
  t.ok(isForeignLayer({ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: d2, size: 1, urls: ['https://example.invalid/x'] }));
  t.notOk(isForeignLayer({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d2, size: 1 }));
});
