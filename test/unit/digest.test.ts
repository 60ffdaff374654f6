import t from 'tap';
import { parseDigest, digestOf, Digester, digestAlgorithm, digestHex } from '../../core/digest.js';

t.test('parseDigest accepts sha256 and sha512 in lowercase hex', async (t) => {
  const d = digestOf('hello');
  t.equal(parseDigest(d), d);
  t.equal(digestAlgorithm(d), 'sha256');
  t.equal(digestHex(d).length, 64);
  const d512 = digestOf('hello', 'sha512');
  t.equal(parseDigest(d512), d512);
});

t.test('parseDigest rejects bad input with DIGEST_INVALID', async (t) => {
  for (const bad of ['', 'sha256', 'sha256:', 'sha256:abc', 'md5:' + 'a'.repeat(32), 'sha256:' + 'A'.repeat(64), 'sha256:' + 'g'.repeat(64), '../etc:passwd', 'sha256:' + 'a'.repeat(63)]) {
    t.throws(() => parseDigest(bad), { code: 'DIGEST_INVALID' }, bad);
  }
});

t.test('Digester over chunks equals digestOf the whole', async (t) => {
  const g = new Digester();
  g.update(Buffer.from('hel'));
  g.update(Buffer.from('lo'));
  t.equal(g.digest(), digestOf('hello'));
  t.equal(g.bytes, 5);
});
