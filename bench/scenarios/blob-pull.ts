// Blob pull throughput: GET a blob pushed just before (untimed), read every byte and discard it.
// The timed GET is curl writing to /dev/null: on this 2-core machine node's http client tops out near 700 MiB/s
// while curl reads distribution at over 1 GB/s, and the target (1.5x distribution) needs a client faster than both
// registries. A second, untimed GET hashes what the registry serves, so wrong bytes fail the run.
import { MiB, PatternBlob } from '../lib/pattern-blob.js';
import { curlGet } from '../lib/curl-get.js';
import { cpuSeconds, ensureAptPackage } from '../lib/processes.js';
import { RegistryClient, UnexpectedResponse } from '../lib/registry-client.js';
import type { BenchSettings, Scenario } from '../lib/scenario.js';

export function blobPull(s: BenchSettings): Scenario {
  let blob: PatternBlob;
  return {
    name: 'pull',
    figures: [
      { key: 'pull', title: `blob pull ${s.blobSize / MiB} MiB`, unit: 'MiB/s', higherIsBetter: true },
      { key: 'pull-cpu', title: `registry CPU, blob pull`, unit: 'CPU s/GiB', higherIsBetter: false },
    ],
    async beforeRun() {
      ensureAptPackage('curl', 'curl');
      blob = new PatternBlob(s.blobSize);
    },
    async measure(registry) {
      const client = new RegistryClient(registry.url, registry.authorization);
      try {
        await client.pushMonolithic('bench/pull', blob);
        const url = `${registry.url}/v2/bench/pull/blobs/${blob.digest}`;
        const cpu0 = await cpuSeconds(registry.pids);
        const seconds = await curlGet(url, blob.size, registry.authorization);
        const cpu = (await cpuSeconds(registry.pids)) - cpu0;
        const served = await client.pull('bench/pull', blob.digest, true);
        if (served.digest !== blob.digest) throw new UnexpectedResponse(`GET blob: served ${served.digest}, expected ${blob.digest}`);
        return { pull: s.blobSize / MiB / seconds, 'pull-cpu': cpu / (s.blobSize / 1024 / MiB) };
      } finally {
        client.close();
      }
    },
  };
}
