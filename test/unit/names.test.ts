import t from 'tap';
import { parseRepositoryName, parseReference, isTag } from '../../core/names.js';
import { digestOf } from '../../core/digest.js';

t.test('repository names that follow the spec grammar are accepted', async (t) => {
  for (const ok of ['a', 'library/ubuntu', 'a/b/c/d', 'foo.bar', 'foo_bar', 'foo__bar', 'foo---bar', 'x0/y-1.z_2', 'a'.repeat(255)]) {
    t.equal(parseRepositoryName(ok), ok, ok.slice(0, 40));
  }
});

t.test('names that break the grammar or try traversal are NAME_INVALID', async (t) => {
  for (const bad of ['', 'Upper', 'a//b', '/a', 'a/', '..', 'a/../b', 'a/./b', '.hidden', 'a..b', 'a___b', '-a', 'a-', 'a%2Fb', '%2e%2e', 'a b', 'a\\b', 'a'.repeat(256)]) {
    t.throws(() => parseRepositoryName(bad), { code: 'NAME_INVALID' }, JSON.stringify(bad.slice(0, 40)));
  }
});

t.test('tags follow [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}', async (t) => {
  t.ok(isTag('latest'));
  t.ok(isTag('_x.Y-1'));
  t.ok(isTag('a'.repeat(128)));
  t.notOk(isTag('a'.repeat(129)));
  t.notOk(isTag('.x'));
  t.notOk(isTag('-x'));
  t.notOk(isTag(''));
});

t.test('a reference is a digest when it holds a colon, a tag otherwise', async (t) => {
  const d = digestOf('x');
  t.same(parseReference(d), { kind: 'digest', digest: d });
  t.same(parseReference('v1.0'), { kind: 'tag', tag: 'v1.0' });
  t.throws(() => parseReference('md5:abc'), { code: 'DIGEST_INVALID' });
  t.throws(() => parseReference('bad/tag'), { code: 'MANIFEST_INVALID' });
});
