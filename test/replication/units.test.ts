import t from 'tap';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Bandwidth, metered } from '../../replicator/bandwidth.js';
import { CredentialCipher, CredentialError } from '../../replicator/credentials.js';
import { PolicySelector, checkFilters, destinationRepository } from '../../replicator/filters.js';

t.test('dest_namespace rewrites names as Harbor does', async (t) => {
  t.equal(destinationRepository('library/hello', '', -1), 'library/hello', 'no namespace: unchanged');
  t.equal(destinationRepository('library/hello', 'mirror', -1), 'mirror/hello', '-1 swaps the project');
  t.equal(destinationRepository('a/b/c', 'mirror', -1), 'mirror/b/c');
  t.equal(destinationRepository('hello', 'mirror', -1), 'mirror/hello', 'a name without project gets one');
  t.equal(destinationRepository('a/b/c', 'ns', 0), 'ns/a/b/c', '0 prefixes');
  t.equal(destinationRepository('a/b/c', 'ns', 2), 'ns/c', 'n swaps n components');
  t.equal(destinationRepository('a/b/c', 'ns', 3), 'ns/c', 'keeping at least the last');
  t.throws(() => destinationRepository('a/b', 'ns', 3), /fewer than the replace count/);
});

t.test('filters are doublestar globs with matches and excludes', async (t) => {
  const s = new PolicySelector({
    filters: [
      { type: 'name', value: 'library/**', decoration: 'matches' },
      { type: 'name', value: '**/tmp-*', decoration: 'excludes' },
      { type: 'tag', value: '{v*,latest}', decoration: 'matches' },
    ],
    dest_namespace: '',
    dest_namespace_replace_count: -1,
  });
  t.ok(s.repositoryMatches('library/a'));
  t.ok(s.repositoryMatches('library/a/b'), '** crosses slashes');
  t.notOk(s.repositoryMatches('library/tmp-x'), 'excludes win');
  t.notOk(s.repositoryMatches('other/a'));
  t.ok(s.tagMatches('v1.2') && s.tagMatches('latest'));
  t.notOk(s.tagMatches('dev'));
  t.equal(s.literalRepositories(), undefined, 'a glob is no literal');
  const literal = new PolicySelector({ filters: [{ type: 'name', value: 'library/hello', decoration: 'matches' }], dest_namespace: '', dest_namespace_replace_count: -1 });
  t.same(literal.literalRepositories(), ['library/hello'], 'a literal name needs no catalog');
  const none = new PolicySelector({ filters: [], dest_namespace: '', dest_namespace_replace_count: -1 });
  t.ok(none.repositoryMatches('any/thing') && none.tagMatches('x'), 'no filter selects everything');
  t.match(checkFilters([{ type: 'chart' as 'name', value: 'x', decoration: 'matches' }]), /unsupported filter type/);
  t.equal(checkFilters([{ type: 'label', value: ['release'], decoration: 'matches' }]), undefined);
  t.match(checkFilters([{ type: 'tag', value: ['a', 'b'], decoration: 'matches' }]), /one pattern, not a list/);
  const labelled = new PolicySelector({ filters: [{ type: 'label', value: ['release', 'signed'], decoration: 'matches' }, { type: 'label', value: 'wip', decoration: 'excludes' }], dest_namespace: '', dest_namespace_replace_count: -1 });
  t.ok(labelled.byLabel && labelled.labelsMatch(['signed', 'release', 'other']), 'every matched label present, no excluded one');
  t.notOk(labelled.labelsMatch(['release']), 'one matched label missing');
  t.notOk(labelled.labelsMatch(['release', 'signed', 'wip']), 'an excluded label present');
  t.notOk(none.byLabel, 'no label filter: no label lookups');
  t.equal(checkFilters([{ type: 'tag', value: 'v*', decoration: 'matches' }]), undefined);
  // Harbor's resource filter (harbor-cli's pull policies carry image): image or artifact, and it selects nothing out
  t.equal(checkFilters([{ type: 'resource', value: 'image', decoration: 'matches' }]), undefined);
  t.match(checkFilters([{ type: 'resource', value: 'chart', decoration: 'matches' }]), /invalid resource filter/);
  const typed = new PolicySelector({ filters: [{ type: 'resource', value: 'image', decoration: 'matches' }], dest_namespace: '', dest_namespace_replace_count: -1 });
  t.ok(typed.repositoryMatches('any/thing') && typed.tagMatches('x'), 'a resource filter alone selects everything');
});

t.test('credentials are sealed with AES-256-GCM under a key from config or a 0600 key file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-key-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const one = await CredentialCipher.load({ dataDir: dir });
  const file = join(dir, 'replication.key');
  t.equal((await stat(file)).mode & 0o777, 0o600, 'the key file is private');
  t.equal(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64').length, 32, '32 random bytes');
  const sealed = one.encrypt('s3cret', 'ctx');
  t.notMatch(sealed, /s3cret/);
  t.not(one.encrypt('s3cret', 'ctx'), sealed, 'a fresh IV each time');
  const again = await CredentialCipher.load({ dataDir: dir });
  t.equal(again.decrypt(sealed, 'ctx'), 's3cret', 'the key file is reused after a restart');
  t.throws(() => again.decrypt(sealed, 'other'), CredentialError, 'bound to its context');
  const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
  t.throws(() => again.decrypt(tampered, 'ctx'), CredentialError, 'tampering is detected');
  const configured = CredentialCipher.fromSecret('a shared secret for every instance');
  t.equal(CredentialCipher.fromSecret('a shared secret for every instance').decrypt(configured.encrypt('x', 'c'), 'c'), 'x', 'the same secret opens it elsewhere');
  t.throws(() => one.decrypt(configured.encrypt('x', 'c'), 'c'), /another key/);
});

t.test('the bandwidth limit holds a stream to its rate and a stop ends it', async (t) => {
  const bw = new Bandwidth(1024 * 1024);
  let counted = 0;
  const started = Date.now();
  const out = metered(Readable.from([Buffer.alloc(600 * 1024)]), { bandwidth: bw, onBytes: (n) => (counted += n) });
  let received = 0;
  for await (const c of out) received += (c as Buffer).length;
  const took = Date.now() - started;
  t.equal(received, 600 * 1024);
  t.equal(counted, received, 'every byte is counted');
  t.ok(took >= 400, `600 KiB at 1 MiB/s took ${took} ms`);

  const stop = new AbortController();
  const slow = metered(Readable.from([Buffer.alloc(4 * 1024 * 1024)]), { bandwidth: new Bandwidth(256 * 1024), onBytes: () => undefined, signal: stop.signal });
  setTimeout(() => stop.abort(new Error('stopped')), 200);
  await t.rejects(
    (async () => {
      for await (const _ of slow) void _;
    })(),
    /stopped/,
    'an abort ends the stream',
  );
});
