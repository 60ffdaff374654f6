// Push/pull throughput of Berth on S3 (s3rver) + Redis next to fs + SQLite, on this machine, with the bench's own
// client (bench/lib): a 256 MiB blob pushed monolithically and in 16 MiB chunks (POST → 201), then pulled with curl
// to /dev/null (as `npm run bench` times pulls) and once more hashed, untimed, to check the bytes. Modes take turns
// run by run; medians. Not a tap test (it takes minutes):
//   npm run build && node --import=@tapjs/typescript/import test/scale-out/throughput.ts   (RUNS=3 SIZE_MIB=256)
import { execFile } from 'node:child_process';
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
const modes: { name: string; berth: BerthProcess }[] = [
  { name: 'fs+SQLite', berth: await startBerth({ env: { BERTH_LOG_LEVEL: 'error' } }) },
  { name: 'S3+Redis', berth: await startBerth({ env: { ...stores.env(), BERTH_LOG_LEVEL: 'error' } }) },
];
const figures = new Map<string, number[]>();
const add = (key: string, v: number) => figures.set(key, [...(figures.get(key) ?? []), v]);

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

try {
  for (let r = 0; r < runs; r++) {
    for (const { name, berth } of r % 2 === 0 ? modes : [...modes].reverse()) {
      const client = new RegistryClient(berth.url);
      try {
        const mono = new PatternBlob(size);
        add(`push mono|${name}`, size / MiB / (await seconds(() => client.pushMonolithic('tp/blob', mono))));
        const chunked = new PatternBlob(size);
        add(`push chunked|${name}`, size / MiB / (await seconds(() => client.pushChunked('tp/blob', chunked, chunk))));
        const url = `${berth.url}/v2/tp/blob/blobs/${mono.digest}`;
        const { stdout } = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url]);
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
const fmt = (xs: number[]) => `${median(xs).toFixed(0)} MiB/s (${xs.map((x) => x.toFixed(0)).join(', ')})`;
const what = { 'push mono': `push ${size / MiB} MiB monolithic`, 'push chunked': `push ${size / MiB} MiB chunked (16 MiB PATCHes)`, pull: `pull ${size / MiB} MiB (curl)` };
console.log(`| ${runs} runs, median (runs) | fs+SQLite | S3 (s3rver)+Redis |`);
console.log('| --- | ---: | ---: |');
for (const [key, title] of Object.entries(what)) {
  console.log(`| ${title} | ${fmt(figures.get(`${key}|fs+SQLite`)!)} | ${fmt(figures.get(`${key}|S3+Redis`)!)} |`);
}
