// The manifest cache bounds real memory: entries own their bytes (a pooled slice would keep Node's whole 8 KiB
// slab alive per small manifest) and each entry counts its overhead, not its length alone.
import t from 'tap';
import { digestOf } from '../../core/digest.js';
import { ManifestCache } from '../../registry/manifest-cache.js';
import type { BlobStore } from '../../storage-adapters/blob/blob-store.js';

const noStore = {} as BlobStore;

t.test('a cached manifest is a copy of its own, not a view onto a pooled slab', async (t) => {
  const cache = new ManifestCache(noStore);
  const pooled = Buffer.concat([Buffer.from('{"schemaVersion":2,'), Buffer.from('"layers":[]}')]);
  t.ok(pooled.buffer.byteLength > pooled.length, 'Buffer.concat of small chunks answers a slice of the pool');
  const digest = digestOf(pooled);
  cache.set(digest, pooled);
  const got = await cache.get(digest);
  t.equal(got.toString(), pooled.toString());
  t.equal(got.buffer.byteLength, got.length, 'the cached bytes own exactly their memory');
});

t.test('many tiny manifests are bounded by their real cost, overhead included', async (t) => {
  const cache = new ManifestCache(noStore, 256 * 1024);
  const digests = [];
  for (let i = 0; i < 4000; i++) {
    const b = Buffer.from(`{"n":${i}}`);
    const d = digestOf(b);
    digests.push(d);
    cache.set(d, b);
  }
  let kept = 0;
  for (const d of digests) if ((cache as unknown as { lru: { has(k: string): boolean } }).lru.has(d)) kept++;
  t.ok(kept < 1100, `${kept} of 4000 ten-byte manifests kept in 256 KiB (each costs its bytes plus ~256)`);
});
