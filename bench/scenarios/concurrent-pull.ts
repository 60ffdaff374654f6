// Many nodes pulling at once: 32 blob GETs in flight, all of one blob (a hot layer) or each of its own (a cold
// start of many images). One curl process drives them all (--parallel, one connection per transfer), so the load
// generator costs one process, not 32. Figures: total bytes over wall time from the first request to the last
// byte, and the registry's CPU seconds per GiB over the same span. Every transfer must answer 200 with the full size.
import { MiB, PatternBlob } from '../lib/pattern-blob.js';
import { cpuSeconds, ensureAptPackage, runCommand } from '../lib/processes.js';
import { RegistryClient, UnexpectedResponse } from '../lib/registry-client.js';
import type { Registry } from '../lib/registries.js';
import { timed, type BenchSettings, type Scenario } from '../lib/scenario.js';

export function concurrentPull(s: BenchSettings): Scenario {
  const n = s.connections;
  const hotSize = (s.quick ? 4 : 64) * MiB;
  const coldSize = (s.quick ? 1 : 16) * MiB;
  let hot: PatternBlob;
  let cold: PatternBlob[] = [];
  // Pushed once per registry (untimed): the blobs are the same for every run.
  const pushed = new Set<string>();
  return {
    name: 'concurrent',
    figures: [
      { key: 'pull32-same', title: `${n} concurrent pulls, one ${hotSize / MiB} MiB blob`, unit: 'MiB/s', higherIsBetter: true },
      { key: 'pull32-same-cpu', title: `registry CPU, ${n} concurrent pulls of one blob`, unit: 'CPU s/GiB', higherIsBetter: false },
      { key: 'pull32-diff', title: `${n} concurrent pulls, ${n} different ${coldSize / MiB} MiB blobs`, unit: 'MiB/s', higherIsBetter: true },
      { key: 'pull32-diff-cpu', title: `registry CPU, ${n} concurrent pulls of different blobs`, unit: 'CPU s/GiB', higherIsBetter: false },
    ],
    async beforeRun(run) {
      if (run > 0) return;
      ensureAptPackage('curl', 'curl');
      hot = new PatternBlob(hotSize);
      cold = Array.from({ length: n }, () => new PatternBlob(coldSize));
    },
    async measure(registry) {
      if (!pushed.has(registry.label)) {
        const client = new RegistryClient(registry.url, registry.authorization);
        try {
          await client.pushMonolithic('bench/hot', hot);
          for (const b of cold) await client.pushMonolithic('bench/cold', b);
        } finally {
          client.close();
        }
        pushed.add(registry.label);
      }
      const same = await parallelGet(registry, Array.from({ length: n }, () => `/v2/bench/hot/blobs/${hot.digest}`), hotSize);
      const diff = await parallelGet(registry, cold.map((b) => `/v2/bench/cold/blobs/${b.digest}`), coldSize);
      return { 'pull32-same': same.mibps, 'pull32-same-cpu': same.cpuPerGiB, 'pull32-diff': diff.mibps, 'pull32-diff-cpu': diff.cpuPerGiB };
    },
  };
}

async function parallelGet(registry: Registry, paths: string[], size: number): Promise<{ mibps: number; cpuPerGiB: number }> {
  const args = ['-sS', '--parallel', '--parallel-immediate', '--parallel-max', String(paths.length), '-w', '%{http_code} %{size_download}\\n'];
  for (const p of paths) args.push('-o', '/dev/null', `${registry.url}${p}`);
  // Bearer tokens, when the registry wants them, ride in a header curl sends with every transfer.
  if (registry.authorization) args.push('-H', `Authorization: ${registry.authorization}`);
  const cpu0 = await cpuSeconds(registry.pids);
  let out = '';
  const seconds = await timed(async () => (out = await runCommand('curl', args)));
  const cpu = (await cpuSeconds(registry.pids)) - cpu0;
  // curl prints its parallel progress meter on stderr even with -s; only the -w lines count.
  const lines = out.split(/[\r\n]+/).filter((l) => /^\d{3} \d+$/.test(l));
  if (lines.length !== paths.length) throw new UnexpectedResponse(`curl reported ${lines.length} transfers, expected ${paths.length}`);
  for (const l of lines) {
    const [status, bytes] = l.split(' ').map(Number);
    if (status !== 200 || bytes !== size) throw new UnexpectedResponse(`parallel GET: ${l}, expected 200 ${size}`);
  }
  const total = paths.length * size;
  return { mibps: total / MiB / seconds, cpuPerGiB: cpu / (total / 1024 / MiB) };
}
