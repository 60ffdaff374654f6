// The everyday push patterns GC must not break, run against real `berth serve` processes while a collector sweeps
// the same stores in a loop: re-tagging an old untagged manifest, reusing an old unreferenced blob after a HEAD
// (skipping its upload), and mounting such a blob into another repository. Every write the registry acknowledged
// is recorded and must be readable, byte for byte, at the end.
import { createHash, randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { loadServerConfig } from '../../core/config.js';
import { createLogger } from '../../core/log.js';
import { collectGarbage, type GcReport } from '../../registry/gc.js';
import { StorageUnavailableError } from '../../storage-adapters/blob/blob-store.js';
import { openBlobStore, openMetaStore } from '../../storage-adapters/open.js';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Blob {
  digest: string;
  bytes: Buffer;
}
const blob = (size = 256): Blob => {
  const bytes = randomBytes(size);
  return { digest: sha(bytes), bytes };
};

function manifestFor(config: Blob, layers: Blob[]): Buffer {
  const d = (b: Blob, mediaType: string) => ({ mediaType, digest: b.digest, size: b.bytes.length });
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: d(config, 'application/vnd.oci.image.config.v1+json'),
      layers: layers.map((l) => d(l, 'application/vnd.oci.image.layer.v1.tar')),
    }),
  );
}

/** What the registry acknowledged: a tag pointing at a manifest whose blobs must all be readable. */
interface Acked {
  repository: string;
  tag: string;
  manifest: Buffer;
  blobs: Blob[];
}

export interface RaceOptions {
  /** BERTH_* for the instances and the collector (stores), beyond BERTH_AUTH=none. */
  env: Record<string, string>;
  /** How many `berth serve` instances share the stores; clients spread over them. */
  instances: number;
  /** Acknowledged writes (blob uploads, mounts, manifest PUTs) to reach before stopping. */
  writes: number;
  graceMs: number;
  /** Concurrent clients. */
  clients?: number;
}

export interface RaceResult {
  writes: number;
  acked: number;
  refused: number;
  gcRuns: number;
  /** Runs cut short by a backend error. */
  gcAborted: number;
  swept: { manifests: number; links: number; blobs: number };
  lost: string[];
}

class Client {
  constructor(readonly base: string) {}

  async upload(repository: string, b: Blob): Promise<boolean> {
    const r = await fetch(`${this.base}/v2/${repository}/blobs/uploads/?digest=${b.digest}`, {
      method: 'POST',
      body: b.bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    await r.arrayBuffer();
    return r.status === 201;
  }

  async head(repository: string, digest: string): Promise<number> {
    const r = await fetch(`${this.base}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' });
    return r.status;
  }

  /** 201 mounted, 202 an upload session was opened instead (finished here with the bytes). */
  async mount(repository: string, from: string, b: Blob): Promise<'mounted' | 'uploaded' | 'failed'> {
    const r = await fetch(`${this.base}/v2/${repository}/blobs/uploads/?mount=${b.digest}&from=${from}`, { method: 'POST' });
    await r.arrayBuffer();
    if (r.status === 201) return 'mounted';
    if (r.status !== 202) return 'failed';
    const location = new URL(r.headers.get('location')!, this.base);
    location.searchParams.set('digest', b.digest);
    const put = await fetch(location, { method: 'PUT', body: b.bytes, headers: { 'Content-Type': 'application/octet-stream' } });
    await put.arrayBuffer();
    return put.status === 201 ? 'uploaded' : 'failed';
  }

  async putManifest(repository: string, tag: string, bytes: Buffer): Promise<{ status: number; code?: string }> {
    const r = await fetch(`${this.base}/v2/${repository}/manifests/${tag}`, { method: 'PUT', body: bytes, headers: { 'Content-Type': MANIFEST } });
    const text = await r.text();
    let code: string | undefined;
    if (r.status >= 400) {
      try {
        code = (JSON.parse(text || '{}') as { errors?: { code: string }[] }).errors?.[0]?.code ?? '';
      } catch {
        throw new Error(`PUT manifest answered ${r.status} with ${text.slice(0, 300)}`);
      }
    }
    return { status: r.status, ...(code !== undefined && { code }) };
  }

  async deleteTag(repository: string, tag: string): Promise<void> {
    const r = await fetch(`${this.base}/v2/${repository}/manifests/${tag}`, { method: 'DELETE' });
    await r.arrayBuffer();
  }
}

export async function raceGcAgainstPushes(t: Test, opts: RaceOptions): Promise<RaceResult> {
  const env = { BERTH_AUTH: 'none', ...opts.env };
  const first = await startBerth({ env, keepData: true });
  const instances: BerthProcess[] = [first];
  for (let i = 1; i < opts.instances; i++) instances.push(await startBerth({ env, dataDir: first.dataDir, keepData: true }));
  t.teardown(async () => {
    for (const p of instances.reverse()) await p.stop();
  });
  const clients = instances.map((p) => new Client(p.url));
  const pick = (n: number) => clients[n % clients.length]!;

  // The collector sees the same stores, as `berth gc` beside `berth serve` does.
  const config = loadServerConfig({ env: { ...env, BERTH_ADDR: '127.0.0.1:0', BERTH_DATA_DIR: first.dataDir, BERTH_LOG_LEVEL: 'silent' } });
  const blobs = await openBlobStore(config);
  const meta = await openMetaStore(config);
  t.teardown(async () => {
    await blobs.close();
    await meta.close();
  });

  // Old content: untagged manifests (pushed, then their tag deleted) and unreferenced blobs, older than the grace.
  const src = 'race/src';
  const old: { manifest: Buffer; blobs: Blob[] }[] = [];
  const loose: Blob[] = [];
  for (let i = 0; i < 40; i++) {
    const c = pick(i);
    const config = blob();
    const layer = blob();
    if (!(await c.upload(src, config)) || !(await c.upload(src, layer))) throw new Error('seeding upload failed');
    const m = manifestFor(config, [layer]);
    if ((await c.putManifest(src, `seed-${i}`, m)).status !== 201) throw new Error('seeding manifest failed');
    await c.deleteTag(src, `seed-${i}`);
    old.push({ manifest: m, blobs: [config, layer] });
    const l = blob();
    if (!(await c.upload(src, l))) throw new Error('seeding loose blob failed');
    loose.push(l);
  }
  await sleep(opts.graceMs + 200);

  let stop = false;
  const result: RaceResult = { writes: 0, acked: 0, refused: 0, gcRuns: 0, gcAborted: 0, swept: { manifests: 0, links: 0, blobs: 0 }, lost: [] };
  const add = (r: GcReport) => {
    result.gcRuns++;
    result.swept.manifests += r.manifestsDeleted;
    result.swept.links += r.linksDeleted;
    result.swept.blobs += r.blobsDeleted;
  };
  const gcLoop = (async () => {
    while (!stop) {
      // A run the backend cuts short (s3rver answers InternalError to a listing racing deletes) is what a
      // crashed collector leaves: it must be as safe as a finished one, and the next run goes on.
      try {
        add(await collectGarbage({ blobs, meta, log: createLogger('silent') }, { graceMs: opts.graceMs, uploadTtlMs: 3600_000 }));
      } catch (e) {
        if (!(e instanceof StorageUnavailableError)) throw e;
        result.gcAborted++;
      }
      await sleep(20);
    }
  })();

  const acked: Acked[] = [];
  let seq = 0;
  /** A fresh config and a manifest using `layer`, tagged: acknowledged, or refused because GC swept the layer. */
  const pushUsing = async (c: Client, repository: string, tag: string, layer: Blob) => {
    const config = blob(64);
    if (await c.upload(repository, config)) result.writes++;
    const m = manifestFor(config, [layer]);
    const r = await c.putManifest(repository, tag, m);
    result.writes++;
    if (r.status === 201) acked.push({ repository, tag, manifest: m, blobs: [config, layer] });
    else if (r.code === 'MANIFEST_BLOB_UNKNOWN') result.refused++;
    else throw new Error(`${tag}: manifest answered ${r.status} ${r.code}`);
  };
  const worker = async (w: number) => {
    while (result.writes < opts.writes) {
      const n = seq++;
      const c = pick(n + w);
      const kind = n % 4;
      if (kind === 3) {
        // Untag something acknowledged earlier: once the grace passes it is GC's to take, and a later re-tag or
        // blob reuse races that sweep — so the race goes on for the whole run, not only over the seeded content.
        const i = acked.findIndex((a) => a.repository === src);
        if (i < 0) continue;
        const [a] = acked.splice(i, 1);
        await c.deleteTag(src, a!.tag);
        result.writes++;
        old.push({ manifest: a!.manifest, blobs: a!.blobs });
        loose.push(a!.blobs[a!.blobs.length - 1]!);
        continue;
      }
      if (kind === 0) {
        // Re-tag an old untagged manifest by pushing it again under a new tag.
        const o = old[(n * 13) % old.length]!;
        const tag = `retag-${n}`;
        const r = await c.putManifest(src, tag, o.manifest);
        result.writes++;
        if (r.status === 201) acked.push({ repository: src, tag, manifest: o.manifest, blobs: o.blobs });
        else if (r.code === 'MANIFEST_BLOB_UNKNOWN') {
          result.refused++;
          // What a client does next: push the blobs again, then the manifest.
          for (const b of o.blobs) if ((await c.upload(src, b))) result.writes++;
          const again = await c.putManifest(src, tag, o.manifest);
          result.writes++;
          if (again.status === 201) acked.push({ repository: src, tag, manifest: o.manifest, blobs: o.blobs });
        } else throw new Error(`re-tag answered ${r.status} ${r.code}`);
      } else if (kind === 1) {
        // Reuse an old unreferenced blob: HEAD 200 means the client skips its upload.
        const l = loose[loose.length - 1 - (n % Math.min(loose.length, 60))]!;
        if ((await c.head(src, l.digest)) !== 200) {
          if (await c.upload(src, l)) result.writes++;
        }
        await pushUsing(c, src, `reuse-${n}`, l);
      } else {
        // Mount an old blob into another repository, then push a manifest there that uses it.
        const l = loose[loose.length - 1 - ((n * 7) % Math.min(loose.length, 60))]!;
        const dst = `race/dst-${n % 4}`;
        const how = await c.mount(dst, src, l);
        if (how !== 'failed') result.writes++;
        await pushUsing(c, dst, `mount-${n}`, l);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.clients ?? 8 }, (_, w) => worker(w)));
  } finally {
    stop = true;
    await gcLoop;
  }
  // One more sweep after the pushes: what was acknowledged is tagged and must survive it too.
  await sleep(opts.graceMs + 50);
  for (let attempt = 1; ; attempt++) {
    try {
      add(await collectGarbage({ blobs, meta, log: createLogger('silent') }, { graceMs: opts.graceMs, uploadTtlMs: 3600_000 }));
      break;
    } catch (e) {
      if (!(e instanceof StorageUnavailableError) || attempt >= 5) throw e;
      result.gcAborted++;
    }
  }

  result.acked = acked.length;
  for (const [i, a] of acked.entries()) {
    const c = pick(i);
    const m = await fetch(`${c.base}/v2/${a.repository}/manifests/${a.tag}`, { headers: { Accept: MANIFEST } });
    const body = Buffer.from(await m.arrayBuffer());
    if (m.status !== 200 || !body.equals(a.manifest)) {
      result.lost.push(`${a.repository}:${a.tag} manifest ${m.status}`);
      continue;
    }
    for (const b of a.blobs) {
      const r = await fetch(`${c.base}/v2/${a.repository}/blobs/${b.digest}`);
      const bytes = Buffer.from(await r.arrayBuffer());
      if (r.status !== 200 || !bytes.equals(b.bytes)) result.lost.push(`${a.repository}:${a.tag} blob ${b.digest.slice(7, 19)} ${r.status}`);
    }
  }
  return result;
}
