// end-8a/8b and /v2/_catalog: listings in lexical order, paginated with n, last and Link.
import t from 'tap';
import { berthOnly, expectOciError, nextLink, targetFor } from '../helpers/conformance-target.js';
import { image } from '../helpers/oci-fixtures.js';

const target = await targetFor(t);
const reg = target.client;
const repo = 'conformance/tags';
const noTagPaging = berthOnly('the tags list ignores n and last and sends no Link');

// Lowercase only: the spec's "lexical (case-insensitive alphanumeric)" and byte order agree on these.
const tags = ['latest', 'v1.0.0', '1.0', '10', '2', 'a_b', 'a-b', 'a.b', 'v1.0.0-rc.1', 'z'];
const sorted = [...tags].sort();
const img = image();
await reg.pushImage(repo, img, tags[0]);
for (const tag of tags.slice(1)) await reg.putManifest(repo, tag, img.manifest.bytes, img.manifest.mediaType);

interface TagList {
  name: string;
  tags: string[];
}

t.test('the tags list names the repository and lists every tag once', async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/tags/list`);
  t.equal(r.status, 200);
  t.match(r.headers.get('content-type') ?? '', /application\/json/);
  const list = r.json<TagList>();
  t.equal(list.name, repo);
  t.same([...list.tags].sort(), sorted);
});

t.test('the tags list is in lexical order', berthOnly('tags are listed in storage order'), async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/tags/list`);
  t.same(r.json<TagList>().tags, sorted);
});

t.test('n returns the first n tags and a Link rel="next" to the rest', noTagPaging, async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/tags/list`, { query: { n: '3' } });
  t.equal(r.status, 200);
  t.same(r.json<TagList>().tags, sorted.slice(0, 3));
  const next = nextLink(r);
  t.ok(next, 'Link rel="next"');
  const u = new URL(next!, reg.base);
  t.equal(u.pathname, `/v2/${repo}/tags/list`);
  t.equal(u.searchParams.get('n'), '3');
  t.equal(u.searchParams.get('last'), sorted[2]);
});

t.test('following Link pages lists every tag exactly once, in order, and the last page has no Link', noTagPaging, async (t) => {
  const seen: string[] = [];
  let r = await reg.send('GET', `/v2/${repo}/tags/list`, { query: { n: '4' } });
  let pages = 1;
  for (;;) {
    t.equal(r.status, 200);
    seen.push(...r.json<TagList>().tags);
    const next = nextLink(r);
    if (!next) break;
    r = await reg.send('GET', next);
    if (++pages > 10) break;
  }
  t.equal(pages, 3);
  t.same(seen, sorted);
});

t.test('last returns the tags after it, not including it', noTagPaging, async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/tags/list`, { query: { last: sorted[4]! } });
  t.same(r.json<TagList>().tags, sorted.slice(5));
  const both = await reg.send('GET', `/v2/${repo}/tags/list`, { query: { n: '2', last: sorted[4]! } });
  t.same(both.json<TagList>().tags, sorted.slice(5, 7));
});

t.test('n larger than the list returns every tag and no Link', noTagPaging, async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/tags/list`, { query: { n: '100' } });
  t.same(r.json<TagList>().tags, sorted);
  t.equal(nextLink(r), undefined);
});

t.test('n=0 returns an empty list and no Link', noTagPaging, async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/tags/list`, { query: { n: '0' } });
  t.equal(r.status, 200);
  t.same(r.json<TagList>().tags, []);
  t.equal(r.headers.get('link'), null);
});

t.test('last after the final tag returns an empty list', noTagPaging, async (t) => {
  const r = await reg.send('GET', `/v2/${repo}/tags/list`, { query: { last: 'zz' } });
  t.equal(r.status, 200);
  t.same(r.json<TagList>().tags, []);
});

t.test('the tags list of an unknown repository answers 404 NAME_UNKNOWN', async (t) => {
  expectOciError(t, await reg.send('GET', '/v2/conformance/no-such-repo/tags/list'), 404, 'NAME_UNKNOWN');
});

interface Catalog {
  repositories: string[];
}

t.test('_catalog lists repositories in lexical order, with n, last and Link rel="next"', async (t) => {
  const names = ['conformance/cat-c', 'conformance/cat-a', 'conformance/cat-b/nested', 'conformance/cat-b'];
  for (const name of names) await reg.pushImage(name, image(), 'x');
  const all = (await reg.send('GET', '/v2/_catalog')).json<Catalog>().repositories;
  t.same(all, [...all].sort(), 'lexical order');
  for (const name of [...names, repo]) t.ok(all.includes(name), name);

  const first = await reg.send('GET', '/v2/_catalog', { query: { n: '2' } });
  t.equal(first.status, 200);
  t.same(first.json<Catalog>().repositories, all.slice(0, 2));
  const next = nextLink(first);
  t.ok(next, 'Link rel="next"');
  const u = new URL(next!, reg.base);
  t.equal(u.pathname, '/v2/_catalog');
  t.equal(u.searchParams.get('n'), '2');
  t.equal(u.searchParams.get('last'), all[1]);

  const seen: string[] = [];
  let r = first;
  for (let pages = 0; pages < 20; pages++) {
    seen.push(...r.json<Catalog>().repositories);
    const link = nextLink(r);
    if (!link) break;
    r = await reg.send('GET', link);
  }
  t.same(seen, all, 'pages together list each repository once, in order');

  const after = await reg.send('GET', '/v2/_catalog', { query: { n: '2', last: 'conformance/cat-a' } });
  t.same(after.json<Catalog>().repositories, all.slice(all.indexOf('conformance/cat-a') + 1).slice(0, 2));
});
