// Blob push throughput: one blob per run, uploaded monolithically (POST, then PUT ?digest= with the body) and in
// chunks (POST, PATCHes with Content-Range, empty PUT ?digest=). Time runs from the POST to the 201; the registry's
// CPU seconds over the same span give its cost per GiB.
import { settlePageCache } from '../lib/page-cache.js';
import { MiB, PatternBlob } from '../lib/pattern-blob.js';
import { RegistryClient } from '../lib/registry-client.js';
import { timedWithCpu, type BenchSettings, type Scenario } from '../lib/scenario.js';

export function blobPush(s: BenchSettings): Scenario {
  const size = `${s.blobSize / MiB} MiB`;
  let mono: PatternBlob;
  let chunked: PatternBlob;
  return {
    name: 'push',
    figures: [
      { key: 'push-mono', title: `blob push ${size} monolithic`, unit: 'MiB/s', higherIsBetter: true },
      { key: 'push-chunked', title: `blob push ${size} chunked (${s.chunkSize / MiB} MiB PATCHes)`, unit: 'MiB/s', higherIsBetter: true },
      { key: 'push-mono-cpu', title: `registry CPU, blob push monolithic`, unit: 'CPU s/GiB', higherIsBetter: false },
      { key: 'push-chunked-cpu', title: `registry CPU, blob push chunked`, unit: 'CPU s/GiB', higherIsBetter: false },
    ],
    async beforeRun() {
      // Distinct content for the two styles, so neither finds its blob already stored.
      mono = new PatternBlob(s.blobSize);
      chunked = new PatternBlob(s.blobSize);
    },
    async measure(registry) {
      const client = new RegistryClient(registry.url, registry.authorization);
      try {
        await settlePageCache();
        const m = await timedWithCpu(registry.pids, () => client.pushMonolithic('bench/push', mono));
        await settlePageCache();
        const c = await timedWithCpu(registry.pids, () => client.pushChunked('bench/push', chunked, s.chunkSize));
        const gib = s.blobSize / 1024 / MiB;
        return {
          'push-mono': s.blobSize / MiB / m.seconds,
          'push-chunked': s.blobSize / MiB / c.seconds,
          'push-mono-cpu': m.cpu / gib,
          'push-chunked-cpu': c.cpu / gib,
        };
      } finally {
        client.close();
      }
    },
  };
}
