// Blob push throughput: one blob per run, uploaded monolithically (POST, then PUT ?digest= with the body) and in
// chunks (POST, PATCHes with Content-Range, empty PUT ?digest=). Time runs from the POST to the 201.
import { MiB, PatternBlob } from '../lib/pattern-blob.js';
import { RegistryClient } from '../lib/registry-client.js';
import { timed, type BenchSettings, type Scenario } from '../lib/scenario.js';

export function blobPush(s: BenchSettings): Scenario {
  const size = `${s.blobSize / MiB} MiB`;
  let mono: PatternBlob;
  let chunked: PatternBlob;
  return {
    name: 'push',
    figures: [
      { key: 'push-mono', title: `blob push ${size} monolithic`, unit: 'MiB/s', higherIsBetter: true },
      { key: 'push-chunked', title: `blob push ${size} chunked (${s.chunkSize / MiB} MiB PATCHes)`, unit: 'MiB/s', higherIsBetter: true },
    ],
    async beforeRun() {
      // Distinct content for the two styles, so neither finds its blob already stored.
      mono = new PatternBlob(s.blobSize);
      chunked = new PatternBlob(s.blobSize);
    },
    async measure(registry) {
      const client = new RegistryClient(registry.url);
      try {
        const monoSeconds = await timed(() => client.pushMonolithic('bench/push', mono));
        const chunkedSeconds = await timed(() => client.pushChunked('bench/push', chunked, s.chunkSize));
        return {
          'push-mono': s.blobSize / MiB / monoSeconds,
          'push-chunked': s.blobSize / MiB / chunkedSeconds,
        };
      } finally {
        client.close();
      }
    },
  };
}
