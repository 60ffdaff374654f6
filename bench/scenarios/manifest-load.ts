// Manifest GET and HEAD requests per second by tag at N connections: the hot path of every `docker pull`.
// Each registry gets a small image (config + one layer) under one tag, checked once by a plain GET, then loaded.
import { randomBytes } from 'node:crypto';
import { MediaType } from '../../core/media-types.js';
import { ensureAptPackage, runCommand } from '../lib/processes.js';
import type { Registry } from '../lib/registries.js';
import { RegistryClient, UnexpectedResponse } from '../lib/registry-client.js';
import type { BenchSettings, Scenario } from '../lib/scenario.js';

const accept = [MediaType.ociManifest, MediaType.dockerManifest, MediaType.ociIndex, MediaType.dockerManifestList].join(', ');
const repo = 'bench/manifest';
const tag = 'latest';

export function manifestLoad(s: BenchSettings): Scenario {
  const seeded = new Set<string>();
  return {
    name: 'manifest',
    figures: [
      { key: 'manifest-get', title: `manifest GET by tag, ${s.connections} connections`, unit: 'req/s', higherIsBetter: true },
      { key: 'manifest-head', title: `manifest HEAD by tag, ${s.connections} connections`, unit: 'req/s', higherIsBetter: true },
    ],
    async beforeRun() {
      ensureAptPackage('wrk', 'wrk');
      ensureAptPackage('ab', 'apache2-utils');
    },
    async measure(registry) {
      if (!seeded.has(registry.url)) {
        await seed(registry);
        seeded.add(registry.url);
      }
      const url = `${registry.url}/v2/${repo}/manifests/${tag}`;
      // Warm-up: connections open, JIT and caches warm, so the timed window measures the steady state.
      await load(s, url, 'GET', Math.min(2, s.loadSeconds), registry.authorization);
      return {
        'manifest-get': await load(s, url, 'GET', s.loadSeconds, registry.authorization),
        'manifest-head': await load(s, url, 'HEAD', s.loadSeconds, registry.authorization),
      };
    },
  };
}

async function seed(registry: Registry): Promise<void> {
  const client = new RegistryClient(registry.url, registry.authorization);
  try {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = randomBytes(1024);
    const configDigest = await client.pushBytes(repo, config);
    const layerDigest = await client.pushBytes(repo, layer);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
      }),
    );
    await client.putManifest(repo, tag, manifest);
    const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, { headers: { accept, ...(registry.authorization && { authorization: registry.authorization }) } });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200 || !body.equals(manifest)) {
      throw new UnexpectedResponse(`GET manifest by tag: status ${res.status}, ${body.equals(manifest) ? 'same' : 'different'} bytes`);
    }
  } finally {
    client.close();
  }
}

/**
 * Requests per second answered 200; any error, timeout or other status fails the measurement.
 * GET is loaded by wrk (HTTP/1.1, one C thread: about 30 µs of CPU per request here, against about 150 µs for
 * autocannon, which on two shared cores would take that much CPU away from whichever registry is faster).
 * HEAD is loaded by ab: wrk 4.1 and autocannon 9 both wait for a body after a HEAD answer that carries its
 * Content-Length, as the spec wants, and stall; ab -i knows a HEAD answer has none and costs about as much as wrk.
 */
/** `authorization`: a Bearer token sent with every request, as a logged-in client does. */
async function load(s: BenchSettings, url: string, method: 'GET' | 'HEAD', seconds: number, authorization?: string): Promise<number> {
  const headers = ['-H', `Accept: ${accept}`, ...(authorization ? ['-H', `Authorization: ${authorization}`] : [])];
  return method === 'GET' ? loadWithWrk(s, url, seconds, headers) : loadHeadWithAb(s, url, seconds, headers);
}

async function loadWithWrk(s: BenchSettings, url: string, seconds: number, headers: string[]): Promise<number> {
  const out = await runCommand('wrk', ['-t1', `-c${s.connections}`, `-d${seconds}s`, ...headers, url]);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`cannot read wrk output:\n${out}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  if (non2xx + errors > 0) throw new UnexpectedResponse(`GET manifest under load: ${non2xx} non-2xx/3xx, ${sockErr?.[0] ?? ''}`);
  return Number(rps[1]);
}

async function loadHeadWithAb(s: BenchSettings, url: string, seconds: number, headers: string[]): Promise<number> {
  // -n caps the count (ab stops at 50,000 by default under -t); -t bounds the time.
  const out = await runCommand('ab', ['-q', '-k', '-i', '-c', String(s.connections), '-t', String(seconds), '-n', '100000000', ...headers, url]);
  const rps = /Requests per second:\s+([\d.]+)/.exec(out);
  const complete = Number(/Complete requests:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (!rps || complete === 0) throw new Error(`cannot read ab output:\n${out}`);
  const failed = Number(/Failed requests:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (failed + non2xx > 0) throw new UnexpectedResponse(`HEAD manifest under load: ${non2xx} non-2xx, ${failed} failed`);
  return Number(rps[1]);
}
