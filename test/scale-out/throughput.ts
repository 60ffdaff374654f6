// Push/pull throughput of Berth on S3 (s3rver) + Redis next to fs + SQLite, on this machine, with the bench's own
// client (bench/lib): a 256 MiB blob pushed monolithically and in 16 MiB chunks (POST → 201), then pulled with curl
// to /dev/null (as `npm run bench` times pulls) and once more hashed, untimed, to check the bytes. Modes take turns
// run by run; medians. Beside MiB/s it gives the CPU seconds the server side spent (Berth, plus s3rver and Redis in
// S3 mode, from /proc), which a busy shared machine distorts far less than wall time. Not a tap test (minutes):
//   npm run build && node --import=@tapjs/typescript/import test/scale-out/throughput.ts   (RUNS=3 SIZE_MIB=256)
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { MiB, PatternBlob } from '../../bench/lib/pattern-blob.js';
import { RegistryClient } from '../../bench/lib/registry-client.js';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { startSharedStores } from '../helpers/shared-stores.js';

const run = promisify(execFile);
const runs = Number(process.env.RUNS ?? 3);
const size = Number(process.env.SIZE_MIB ?? 256) * MiB;
const chunk = 16 * MiB;

const stores = await startSharedStores({ durable: false });
const fsBerth = await startBerth({ env: { BERTH_LOG_LEVEL: 'error' } });
const s3Berth = await startBerth({ env: { ...stores.env(), BERTH_LOG_LEVEL: 'error' } });
const modes: { name: string; berth: BerthProcess; stores: number[] }[] = [
  { name: 'fs+SQLite', berth: fsBerth, stores: [] },
  { name: 'S3+Redis', berth: s3Berth, stores: [stores.s3.child.pid!, stores.redis.child.pid!] },
];
/** User + system CPU seconds of `pids` so far. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100;
}
const figures = new Map<string, number[]>();
const add = (key: string, v: number) => figures.set(key, [...(figures.get(key) ?? []), v]);

/** Wall seconds of `fn`, recording the CPU seconds of Berth and of the store processes under `key`. */
async function seconds(key: string, berth: number, storePids: number[], fn: () => Promise<unknown>): Promise<number> {
  const [b, s] = [cpuSeconds([berth]), cpuSeconds(storePids)];
  const start = performance.now();
  await fn();
  const wall = (performance.now() - start) / 1000;
  add(`cpu ${key}`, cpuSeconds([berth]) - b);
  add(`cpu stores ${key}`, cpuSeconds(storePids) - s);
  return wall;
}

try {
  for (let r = 0; r < runs; r++) {
    for (const { name, berth, stores: storePids } of r % 2 === 0 ? modes : [...modes].reverse()) {
      const pid = berth.child.pid!;
      const client = new RegistryClient(berth.url);
      try {
        const mono = new PatternBlob(size);
        add(`push mono|${name}`, size / MiB / (await seconds(`push mono|${name}`, pid, storePids, () => client.pushMonolithic('tp/blob', mono))));
        const chunked = new PatternBlob(size);
        add(`push chunked|${name}`, size / MiB / (await seconds(`push chunked|${name}`, pid, storePids, () => client.pushChunked('tp/blob', chunked, chunk))));
        const url = `${berth.url}/v2/tp/blob/blobs/${mono.digest}`;
        let stdout = '';
        await seconds(`pull|${name}`, pid, storePids, async () => {
          ({ stdout } = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url]));
        });
        const [status, bytes, secs] = stdout.trim().split(' ').map(Number) as [number, number, number];
        if (status !== 200 || bytes !== size) throw new Error(`${name}: GET blob ${status}, ${bytes} bytes`);
        add(`pull|${name}`, size / MiB / secs);
        const served = await client.pull('tp/blob', mono.digest, true);
        if (served.digest !== mono.digest) throw new Error(`${name}: served ${served.digest}, expected ${mono.digest}`);
      } finally {
        client.close();
      }
      console.error(`run ${r + 1} ${name} done`);
    }
  }
} finally {
  await Promise.allSettled(modes.map((m) => m.berth.stop()));
  await stores.stop();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[], digits = 0) => `${median(xs).toFixed(digits)} (${xs.map((x) => x.toFixed(digits)).join(', ')})`;
const what = { 'push mono': `push ${size / MiB} MiB monolithic`, 'push chunked': `push ${size / MiB} MiB chunked (16 MiB PATCHes)`, pull: `pull ${size / MiB} MiB (curl)` };
console.log(`| ${runs} runs: median (runs) | fs+SQLite MiB/s | S3 (s3rver)+Redis MiB/s | CPU s: fs+SQLite Berth | CPU s: S3+Redis Berth | CPU s: s3rver + Redis |`);
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const [key, title] of Object.entries(what)) {
  const [fs, s3] = ['fs+SQLite', 'S3+Redis'].map((m) => `${key}|${m}`);
  const cells = [fmt(figures.get(fs!)!), fmt(figures.get(s3!)!), fmt(figures.get(`cpu ${fs}`)!, 2), fmt(figures.get(`cpu ${s3}`)!, 2), fmt(figures.get(`cpu stores ${s3}`)!, 2)];
  console.log(`| ${title} | ${cells.join(' | ')} |`);
}
console.log(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
