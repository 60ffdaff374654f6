import t from 'tap';
import { HybridLogicalClock, compareVersions, formatVersion, parseVersion } from '../../core/hlc.js';

t.test('ticks are strictly increasing even when the wall clock stalls or goes back', async (t) => {
  let now = 1000;
  const clock = new HybridLogicalClock(() => now);
  const a = clock.tick();
  const b = clock.tick();
  now = 900;
  const c = clock.tick();
  now = 2000;
  const d = clock.tick();
  const seq = [a, b, c, d].map((x) => ({ ...x, idc: 'a' }));
  for (let i = 1; i < seq.length; i++) t.equal(compareVersions(seq[i - 1]!, seq[i]!), -1, `tick ${i} after tick ${i - 1}`);
  t.same(d, { wall: 2000, logical: 0 });
});

t.test('observing a remote timestamp from the future orders later local events after it', async (t) => {
  const clock = new HybridLogicalClock(() => 1000);
  const remote = { wall: 5000, logical: 7 };
  clock.observe(remote);
  const next = clock.tick();
  t.equal(compareVersions({ ...remote, idc: 'z' }, { ...next, idc: 'a' }), -1);
});

t.test('equal timestamps are ordered by IDC name, and the wire form round-trips', async (t) => {
  const a = { wall: 1, logical: 2, idc: 'idc-a' };
  const b = { wall: 1, logical: 2, idc: 'idc-b' };
  t.equal(compareVersions(a, b), -1);
  t.equal(compareVersions(a, a), 0);
  t.same(parseVersion(formatVersion(b)), b);
  t.equal(parseVersion('garbage'), undefined);
});
