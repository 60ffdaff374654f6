// Peak resident memory of the registry (its whole process tree) while it receives one large blob pushed
// monolithically from a generator. A registry started for this push alone, so earlier scenarios leave no trace.
import { MiB, PatternBlob } from '../lib/pattern-blob.js';
import { sampleRss } from '../lib/processes.js';
import { RegistryClient } from '../lib/registry-client.js';
import type { BenchSettings, Scenario } from '../lib/scenario.js';

export function pushRss(s: BenchSettings): Scenario {
  let blob: PatternBlob;
  const size = s.rssBlobSize >= 1024 * MiB ? `${s.rssBlobSize / 1024 / MiB} GiB` : `${s.rssBlobSize / MiB} MiB`;
  return {
    name: 'rss',
    freshRegistry: true,
    figures: [{ key: 'rss', title: `peak RSS pushing a ${size} blob`, unit: 'MiB', higherIsBetter: false }],
    async beforeRun() {
      blob = new PatternBlob(s.rssBlobSize);
    },
    async measure(registry) {
      const client = new RegistryClient(registry.url, registry.authorization);
      const sampler = sampleRss(registry.pids);
      let peak: number;
      try {
        await client.pushMonolithic('bench/rss', blob);
      } finally {
        client.close();
        peak = await sampler.stop();
      }
      return { rss: peak / MiB };
    },
  };
}
