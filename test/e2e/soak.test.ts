// Two minutes of mixed pushes and pulls with token auth against a real `berth serve`: RSS settles. The pin is
// the growth from the end of a 30 s warm-up to the end (a leak or an unbounded cache grows with every push;
// the manifest cache used to keep an 8 KiB pool slab per cached manifest). `node dist/bench/soak.js` runs longer.
import t from 'tap';
import { mixedLoad, rssMiB } from '../../bench/lib/soak-load.js';
import { admin, AdminApi, startTokenBerth } from '../auth/access.js';

const WARM_UP_MS = 30_000;
const TOTAL_MS = Number(process.env.BERTH_SOAK_MS ?? 120_000);
const MAX_GROWTH_MIB = 40;
const MAX_RSS_MIB = 300;

t.test(`RSS settles under ${TOTAL_MS / 1000} s of mixed pushes and pulls with token auth`, async (t) => {
  const berth = await startTokenBerth(t);
  await new AdminApi(berth.url, admin).createProject('soak', false);
  const target = { url: berth.url, username: admin.username, password: admin.password, project: 'soak' };
  const pid = berth.child.pid!;
  const start = Date.now();
  const curve: string[] = [`0s ${(await rssMiB(pid)).toFixed(0)} MiB`];
  const sampler = setInterval(() => void rssMiB(pid).then((m) => curve.push(`${Math.round((Date.now() - start) / 1000)}s ${m.toFixed(0)} MiB`)), 10_000);
  t.teardown(() => clearInterval(sampler));
  const counts = await mixedLoad(target, start + WARM_UP_MS);
  const warm = await rssMiB(pid);
  await mixedLoad(target, start + TOTAL_MS, 4, counts);
  const end = await rssMiB(pid);
  clearInterval(sampler);
  t.comment(`RSS curve: ${curve.join(', ')}; after warm-up ${warm.toFixed(0)} MiB, at the end ${end.toFixed(0)} MiB`);
  t.comment(`${counts.pushes} pushes, ${counts.pulls} pulls, ${counts.failures} failures`);
  t.equal(counts.failures, 0, counts.lastFailure ?? 'no failures');
  t.ok(counts.pushes > 1000, `a real load: ${counts.pushes} pushes`);
  t.ok(end - warm < MAX_GROWTH_MIB, `RSS grew ${(end - warm).toFixed(0)} MiB after warm-up (bound ${MAX_GROWTH_MIB})`);
  t.ok(end < MAX_RSS_MIB, `RSS at the end ${end.toFixed(0)} MiB (bound ${MAX_RSS_MIB})`);
});
