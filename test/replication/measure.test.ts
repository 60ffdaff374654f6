import t from 'tap';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBerth } from '../helpers/berth-process.js';
import { addPolicy, addRegistry, digestOfTag, pushImage } from '../helpers/idc.js';

// The figures reported for replication: lag from a push on one IDC to the tag answering on the other (default
// settings: outbox polled every 500 ms), and one 256 MiB layer's transfer. Heavy, so only with BERTH_MEASURE=1.

const run = process.env.BERTH_MEASURE === '1';

t.test('replication lag and throughput between two IDCs on loopback', { skip: run ? false : 'set BERTH_MEASURE=1 to measure' }, async (t) => {
  const [a, b] = await Promise.all([startBerth({ env: { BERTH_IDC: 'a' } }), startBerth({ env: { BERTH_IDC: 'b' } })]);
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });
  await addPolicy(a.url, { name: 'a-to-b', dest: await addRegistry(a.url, 'b', b.url) });
  await sleep(1000);

  const lags: number[] = [];
  for (let i = 0; i < Number(process.env.BERTH_MEASURE_PUSHES ?? 100); i++) {
    const img = await pushImage(a.url, 'measure/lag', `t${i}`, { layerSize: 4096 });
    const pushed = performance.now();
    while ((await digestOfTag(b.url, 'measure/lag', `t${i}`)) !== img.digest) await sleep(10);
    lags.push(performance.now() - pushed);
    await sleep(100 + Math.random() * 200);
  }
  lags.sort((x, y) => x - y);
  const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))]!.toFixed(0);
  t.comment(`lag over ${lags.length} pushes: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms (load ${loadavg()[0]!.toFixed(1)})`);

  const MiB = 1024 * 1024;
  const big = await pushImage(a.url, 'measure/big', 'v1', { layerSize: 256 * MiB });
  const started = performance.now();
  while ((await digestOfTag(b.url, 'measure/big', 'v1')) !== big.digest) await sleep(20);
  const seconds = (performance.now() - started) / 1000;
  t.comment(`256 MiB layer replicated in ${seconds.toFixed(2)} s: ${(256 / seconds).toFixed(0)} MiB/s (load ${loadavg()[0]!.toFixed(1)})`);
  t.ok(lags.length > 0);
});
