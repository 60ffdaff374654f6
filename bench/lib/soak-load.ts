// The mixed load of the soak bench and test: workers push small images and pull them back, each operation with
// a fresh bearer token from /service/token (Basic credentials), as docker and CI fleets do.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface SoakTarget {
  url: string;
  username: string;
  password: string;
  /** Projects to spread repositories over (must exist and grant the user push and pull). */
  project: string;
}

export interface SoakCounts {
  pushes: number;
  pulls: number;
  failures: number;
  lastFailure?: string;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function tokenFor(t: SoakTarget, repo: string, actions: string): Promise<string> {
  const u = new URL(`${t.url}/service/token`);
  u.searchParams.set('service', 'berth');
  u.searchParams.set('scope', `repository:${repo}:${actions}`);
  const r = await fetch(u, { headers: { Authorization: `Basic ${Buffer.from(`${t.username}:${t.password}`).toString('base64')}` } });
  if (r.status !== 200) throw new Error(`token: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { token: string }).token;
}

async function expect(r: Response, status: number, what: string): Promise<void> {
  const body = await r.arrayBuffer();
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${Buffer.from(body).toString().slice(0, 200)}`);
}

async function push(t: SoakTarget, repo: string, tag: string): Promise<void> {
  const auth = { Authorization: `Bearer ${await tokenFor(t, repo, 'pull,push')}` };
  const layer = randomBytes(16 * 1024 + Math.floor(Math.random() * 48 * 1024));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] }, n: Math.random() }));
  for (const b of [layer, config]) {
    const r = await fetch(`${t.url}/v2/${repo}/blobs/uploads/?digest=${sha(b)}`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/octet-stream' },
      body: b,
    });
    await expect(r, 201, 'blob upload');
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
    }),
  );
  const r = await fetch(`${t.url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...auth, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  await expect(r, 201, 'manifest put');
}

async function pull(t: SoakTarget, repo: string, tag: string): Promise<void> {
  const auth = { Authorization: `Bearer ${await tokenFor(t, repo, 'pull')}` };
  const m = await fetch(`${t.url}/v2/${repo}/manifests/${tag}`, { headers: { ...auth, Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  if (m.status !== 200) return expect(m, 200, 'manifest get');
  const manifest = (await m.json()) as { layers: { digest: string }[] };
  for (const l of manifest.layers) await expect(await fetch(`${t.url}/v2/${repo}/blobs/${l.digest}`, { headers: auth }), 200, 'blob get');
}

/** Runs `workers` loops of pushes (1 in 3) and pulls until `until` (ms since epoch). */
export async function mixedLoad(t: SoakTarget, until: number, workers = 4, counts: SoakCounts = { pushes: 0, pulls: 0, failures: 0 }): Promise<SoakCounts> {
  const pushed: [string, string][] = [];
  let seq = 0;
  const worker = async () => {
    while (Date.now() < until) {
      try {
        if (pushed.length === 0 || Math.random() < 1 / 3) {
          const repo = `${t.project}/app-${seq % 40}`;
          const tag = `v${seq++}`;
          await push(t, repo, tag);
          pushed.push([repo, tag]);
          counts.pushes++;
        } else {
          const [repo, tag] = pushed[Math.floor(Math.random() * pushed.length)]!;
          await pull(t, repo, tag);
          counts.pulls++;
        }
      } catch (e) {
        counts.failures++;
        counts.lastFailure = (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return counts;
}
