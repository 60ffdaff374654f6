// end-12a/12b and "Pushing Manifests with Subject": the referrers API. distribution 2.8 predates it entirely
// (404 on the endpoint, no OCI-Subject), so every expectation here is Berth-only.
import t from 'tap';
import { berthOnly, expectOciError, nextLink, targetFor, type Reply } from '../helpers/conformance-target.js';
import { artifact, configTypedReferrer, descriptorOf, image, ociIndex, randomBlob, type Image } from '../helpers/oci-fixtures.js';
import { MediaType } from '../../core/media-types.js';

const target = await targetFor(t);
const reg = target.client;
const repo = 'conformance/referrers';
const noReferrersApi = berthOnly('no referrers API (404) and no OCI-Subject');

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: { mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }[];
}

async function referrers(subject: string, query: Record<string, string> = {}, name = repo) {
  return reg.send('GET', `/v2/${name}/referrers/${subject}`, { query });
}

const subject = image();
await reg.pushImage(repo, subject, 'subject');
const sbom = artifact({
  artifactType: 'application/vnd.example.sbom.v1',
  subject: subject.manifest,
  blobs: [randomBlob(300, 'application/spdx+json')],
  annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.sbom.format': 'json' },
});
const signature = artifact({
  artifactType: 'application/vnd.example.signature.v1',
  subject: subject.manifest,
  annotations: { 'org.example.signature.fingerprint': 'abcd' },
});
const legacy = configTypedReferrer(subject.manifest, 'application/vnd.example.legacy.config.v1+json', { 'org.example.kind': 'legacy' });
const bundle = ociIndex([image()], { subject: descriptorOf(subject.manifest), annotations: { 'org.example.kind': 'bundle' } });
const expected: Image[] = [sbom, signature, legacy, bundle];
const puts: Reply[] = [];
for (const r of expected) puts.push(await reg.pushImage(repo, r));

t.test('PUT of a manifest with a subject answers OCI-Subject with the subject digest', noReferrersApi, async (t) => {
  for (const [i, put] of puts.entries()) {
    t.equal(put.status, 201);
    t.equal(put.headers.get('oci-subject'), subject.manifest.digest, expected[i]!.manifest.json.artifactType ?? expected[i]!.manifest.mediaType);
  }
});

t.test('GET referrers returns an OCI index of every referrer: mediaType, digest, size, artifactType, annotations', noReferrersApi, async (t) => {
  const r = await referrers(subject.manifest.digest);
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-type'), MediaType.ociIndex);
  const index = r.json<ReferrersIndex>();
  t.equal(index.schemaVersion, 2);
  t.equal(index.mediaType, MediaType.ociIndex);
  t.equal(index.manifests.length, expected.length);
  const byDigest = new Map(index.manifests.map((d) => [d.digest, d]));
  const want = (img: Image) => byDigest.get(img.manifest.digest);
  t.match(want(sbom), {
    mediaType: MediaType.ociManifest,
    size: sbom.manifest.bytes.length,
    artifactType: 'application/vnd.example.sbom.v1',
    annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.sbom.format': 'json' },
  });
  t.match(want(signature), { artifactType: 'application/vnd.example.signature.v1', annotations: { 'org.example.signature.fingerprint': 'abcd' } });
  // spec: no artifactType in an image manifest -> the config descriptor's mediaType.
  t.match(want(legacy), { artifactType: 'application/vnd.example.legacy.config.v1+json', annotations: { 'org.example.kind': 'legacy' } });
  // spec: no artifactType in an index -> omitted.
  t.match(want(bundle), { mediaType: MediaType.ociIndex, size: bundle.manifest.bytes.length, annotations: { 'org.example.kind': 'bundle' } });
  t.notOk(want(bundle) && 'artifactType' in want(bundle)!, 'an index without artifactType has none in its descriptor');
});

t.test('the artifactType filter returns only matching referrers and answers OCI-Filters-Applied: artifactType', noReferrersApi, async (t) => {
  const r = await referrers(subject.manifest.digest, { artifactType: 'application/vnd.example.signature.v1' });
  t.equal(r.status, 200);
  t.equal(r.headers.get('oci-filters-applied'), 'artifactType');
  t.same(r.json<ReferrersIndex>().manifests.map((d) => d.digest), [signature.manifest.digest]);
  const none = await referrers(subject.manifest.digest, { artifactType: 'application/vnd.example.nothing' });
  t.equal(none.status, 200);
  t.same(none.json<ReferrersIndex>().manifests, []);
});

t.test('a subject with no referrers, or one the registry never saw, answers 200 with an empty index', noReferrersApi, async (t) => {
  for (const digest of [sbom.manifest.digest, image().manifest.digest]) {
    const r = await referrers(digest);
    t.equal(r.status, 200);
    t.equal(r.headers.get('content-type'), MediaType.ociIndex);
    t.match(r.json(), { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] });
    t.equal(r.json<ReferrersIndex>().manifests.length, 0);
  }
});

t.test('referrers pushed before their subject are listed', noReferrersApi, async (t) => {
  const later = image();
  const early = artifact({ artifactType: 'application/vnd.example.early.v1', subject: later.manifest });
  await reg.pushImage(repo, early);
  const before = await referrers(later.manifest.digest);
  t.same(before.json<ReferrersIndex>().manifests.map((d) => d.digest), [early.manifest.digest]);
  await reg.pushImage(repo, later);
  const after = await referrers(later.manifest.digest);
  t.same(after.json<ReferrersIndex>().manifests.map((d) => d.digest), [early.manifest.digest]);
});

t.test('referrers are per repository: another repository does not list them', noReferrersApi, async (t) => {
  const r = await referrers(subject.manifest.digest, {}, 'conformance/referrers-other');
  t.equal(r.status, 200);
  t.same(r.json<ReferrersIndex>().manifests, []);
});

t.test('a deleted referrer leaves the list', noReferrersApi, async (t) => {
  const s = image();
  await reg.pushImage(repo, s);
  const a = artifact({ artifactType: 'application/vnd.example.gone.v1', subject: s.manifest });
  const b = artifact({ artifactType: 'application/vnd.example.stays.v1', subject: s.manifest });
  await reg.pushImage(repo, a);
  await reg.pushImage(repo, b);
  t.equal((await reg.send('DELETE', `/v2/${repo}/manifests/${a.manifest.digest}`)).status, 202);
  t.same((await referrers(s.manifest.digest)).json<ReferrersIndex>().manifests.map((d) => d.digest), [b.manifest.digest]);
});

t.test('many referrers are paginated with Link rel="next", and the pages list each exactly once', noReferrersApi, async (t) => {
  // The spec leaves the page size to the registry; Berth honours `n` (as for tags) so a test need not push 1000.
  const s = image();
  await reg.pushImage(repo, s);
  const pushed = new Set<string>();
  for (let i = 0; i < 7; i++) {
    const a = artifact({ artifactType: 'application/vnd.example.page.v1', subject: s.manifest, annotations: { i: String(i) } });
    await reg.pushImage(repo, a);
    pushed.add(a.manifest.digest);
  }
  const seen: string[] = [];
  let page = await referrers(s.manifest.digest, { n: '3' });
  let pages = 1;
  for (;;) {
    t.equal(page.status, 200);
    const got = page.json<ReferrersIndex>().manifests;
    t.ok(got.length <= 3, 'a page holds at most n');
    seen.push(...got.map((d) => d.digest));
    const next = nextLink(page);
    if (!next) break;
    t.ok(next.startsWith(`/v2/${repo}/referrers/${s.manifest.digest}`), 'Link points at the same referrers list', { next });
    page = await reg.send('GET', next);
    if (++pages > 10) break;
  }
  t.equal(pages, 3, 'seven referrers in pages of three');
  t.equal(seen.length, pushed.size, 'no duplicates');
  t.same(new Set(seen), pushed, 'every referrer once');
});

t.test('an invalid digest answers 400 DIGEST_INVALID', noReferrersApi, async (t) => {
  expectOciError(t, await reg.send('GET', `/v2/${repo}/referrers/sha256:not-a-digest`), 400, 'DIGEST_INVALID');
});
