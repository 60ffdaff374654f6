// end-9: deleting tags and manifests.
import t from 'tap';
import { acceptAllManifests, berthOnly, expectOciError, targetFor } from '../helpers/conformance-target.js';
import { image } from '../helpers/oci-fixtures.js';

const target = await targetFor(t);
const reg = target.client;
const repo = 'conformance/deletes';

async function tagsOf(name = repo): Promise<string[]> {
  const r = await reg.send('GET', `/v2/${name}/tags/list`);
  return r.status === 200 ? ((r.json<{ tags: string[] | null }>().tags ?? []) as string[]).sort() : [];
}

const noTagDelete = berthOnly('tag deletion is refused (400 DIGEST_INVALID)');

t.test('DELETE a tag answers 202 and removes only that tag; the manifest stays pullable by digest and by its other tags', noTagDelete, async (t) => {
  const img = image();
  await reg.pushImage(repo, img, 'one');
  await reg.putManifest(repo, 'two', img.manifest.bytes, img.manifest.mediaType);
  const del = await reg.send('DELETE', `/v2/${repo}/manifests/one`);
  t.equal(del.status, 202);
  expectOciError(t, await reg.getManifest(repo, 'one', acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'the deleted tag');
  const two = await reg.getManifest(repo, 'two', acceptAllManifests);
  t.equal(two.status, 200, 'the other tag');
  t.ok(two.body.equals(img.manifest.bytes));
  const byDigest = await reg.getManifest(repo, img.manifest.digest, acceptAllManifests);
  t.equal(byDigest.status, 200, 'the manifest by digest');
  t.ok(byDigest.body.equals(img.manifest.bytes));
  t.notOk((await tagsOf()).includes('one'), 'the tags list no longer has it');
  t.ok((await tagsOf()).includes('two'));
});

t.test('DELETE by digest answers 202 and removes the manifest and every tag pointing at it', async (t) => {
  const img = image();
  const keep = image();
  await reg.pushImage(repo, img, 'gone-1');
  await reg.putManifest(repo, 'gone-2', img.manifest.bytes, img.manifest.mediaType);
  await reg.pushImage(repo, keep, 'kept');
  const del = await reg.send('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`);
  t.equal(del.status, 202);
  expectOciError(t, await reg.getManifest(repo, img.manifest.digest, acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'by digest');
  expectOciError(t, await reg.getManifest(repo, 'gone-1', acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'gone-1');
  expectOciError(t, await reg.getManifest(repo, 'gone-2', acceptAllManifests), 404, 'MANIFEST_UNKNOWN', 'gone-2');
  const tags = await tagsOf();
  t.notOk(tags.includes('gone-1') || tags.includes('gone-2'), 'neither tag is listed');
  t.equal((await reg.getManifest(repo, 'kept', acceptAllManifests)).status, 200, 'other manifests are untouched');
});

t.test('DELETE by digest leaves the blobs it referenced readable (blobs go only by GC or blob DELETE)', async (t) => {
  const img = image();
  await reg.pushImage(repo, img, 'blobs-stay');
  t.equal((await reg.send('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`)).status, 202);
  for (const b of img.blobs) t.equal((await reg.send('HEAD', `/v2/${repo}/blobs/${b.digest}`)).status, 200, b.digest);
});

t.test('a manifest deleted by digest can be pushed again', async (t) => {
  const img = image();
  await reg.pushImage(repo, img, 'again');
  t.equal((await reg.send('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`)).status, 202);
  t.equal((await reg.putManifest(repo, 'again', img.manifest.bytes, img.manifest.mediaType)).status, 201);
  const r = await reg.getManifest(repo, 'again', acceptAllManifests);
  t.ok(r.body.equals(img.manifest.bytes));
});

t.test('DELETE an unknown manifest digest answers 404 MANIFEST_UNKNOWN', async (t) => {
  await reg.pushImage(repo, image(), 'present');
  expectOciError(t, await reg.send('DELETE', `/v2/${repo}/manifests/${image().manifest.digest}`), 404, 'MANIFEST_UNKNOWN');
});

t.test('DELETE an unknown tag answers 404 MANIFEST_UNKNOWN', noTagDelete, async (t) => {
  await reg.pushImage(repo, image(), 'present-2');
  expectOciError(t, await reg.send('DELETE', `/v2/${repo}/manifests/never-was`), 404, 'MANIFEST_UNKNOWN');
});

t.test('DELETE in an unknown repository answers 404', async (t) => {
  const r = await reg.send('DELETE', `/v2/conformance/never-pushed/manifests/${image().manifest.digest}`);
  expectOciError(t, r, 404, ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN']);
});

t.test('after its last manifest is deleted, a repository lists no tags (200, empty) rather than 404', async (t) => {
  const gone = 'conformance/deleted-all';
  const img = image();
  await reg.pushImage(gone, img, 'only');
  t.equal((await reg.send('DELETE', `/v2/${gone}/manifests/${img.manifest.digest}`)).status, 202);
  const r = await reg.send('GET', `/v2/${gone}/tags/list`);
  t.equal(r.status, 200);
  t.same(r.json<{ name: string; tags: string[] | null }>().tags ?? [], [], 'no tags');
});
