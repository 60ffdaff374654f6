// `skopeo copy` of a multi-layer image: push from an OCI layout on disk to the registry, then pull it back into a
// fresh layout. A new image per run (random layers), so each registry receives content it has never seen; skopeo's
// blob-info cache is cleared before every copy, or it would mount or skip blobs instead of moving them.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { MediaType } from '../../core/media-types.js';
import { MiB } from '../lib/pattern-blob.js';
import { ensureAptPackage, runCommand } from '../lib/processes.js';
import { UnexpectedResponse } from '../lib/registry-client.js';
import { timed, type BenchSettings, type Scenario } from '../lib/scenario.js';

const blobInfoCaches = [
  '/var/lib/containers/cache/blob-info-cache-v1.boltdb',
  join(homedir(), '.local/share/containers/cache/blob-info-cache-v1.boltdb'),
];

interface Image {
  layout: string;
  /** Bytes of every blob a copy moves: layers, config, manifest. */
  bytes: number;
  layers: { digest: string; size: number }[];
}

export function skopeoCopy(s: BenchSettings): Scenario {
  let image: Image;
  return {
    name: 'skopeo',
    figures: [
      { key: 'skopeo-push', title: `skopeo copy push, ${s.imageLayers} layers ${s.imageSize / MiB} MiB`, unit: 'MiB/s', higherIsBetter: true },
      { key: 'skopeo-pull', title: `skopeo copy pull, ${s.imageLayers} layers ${s.imageSize / MiB} MiB`, unit: 'MiB/s', higherIsBetter: true },
    ],
    async beforeRun(run) {
      ensureAptPackage('skopeo', 'skopeo');
      if (image) await rm(image.layout, { recursive: true, force: true });
      image = await buildImage(join(s.workDir, `image-${run}`), s.imageLayers, s.imageSize);
    },
    async measure(registry, run) {
      // With auth on, skopeo does the token dance itself, as clients do: 401, token from the realm, retry.
      const creds = (side: 'src' | 'dest') => (registry.credentials ? [`--${side}-creds`, registry.credentials] : []);
      const ref = `docker://${registry.host}/bench/skopeo-${run}:latest`;
      const pushSeconds = await timed(async () => {
        await clearBlobInfoCache();
        await runCommand('skopeo', ['copy', '--insecure-policy', '--dest-tls-verify=false', ...creds('dest'), `oci:${image.layout}:bench`, ref]);
      });
      const dest = join(s.workDir, `pulled-${run}`);
      await rm(dest, { recursive: true, force: true });
      const pullSeconds = await timed(async () => {
        await clearBlobInfoCache();
        await runCommand('skopeo', ['copy', '--insecure-policy', '--src-tls-verify=false', ...creds('src'), ref, `oci:${dest}:bench`]);
      });
      // skopeo checks each digest as it pulls; what is left to check is that every layer arrived.
      for (const l of image.layers) {
        const got = await stat(join(dest, 'blobs', 'sha256', l.digest.slice(7))).catch(() => undefined);
        if (got?.size !== l.size) throw new UnexpectedResponse(`skopeo pull: layer ${l.digest} missing or truncated`);
      }
      await rm(dest, { recursive: true, force: true });
      return { 'skopeo-push': image.bytes / MiB / pushSeconds, 'skopeo-pull': image.bytes / MiB / pullSeconds };
    },
    async teardown() {
      if (image) await rm(image.layout, { recursive: true, force: true });
    },
  };
}

async function clearBlobInfoCache(): Promise<void> {
  for (const f of blobInfoCaches) await rm(f, { force: true });
}

/** An OCI image layout with `layers` gzip layers (tar of one random file each) totalling about `size` bytes. */
async function buildImage(layout: string, layers: number, size: number): Promise<Image> {
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const written: { digest: string; size: number; diffId: string }[] = [];
  for (let i = 0; i < layers; i++) written.push(await writeLayer(blobs, `layer-${i}.bin`, Math.floor(size / layers)));
  const putJson = async (doc: unknown) => {
    const bytes = Buffer.from(JSON.stringify(doc));
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const config = await putJson({
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: written.map((l) => l.diffId) },
  });
  const manifest = await putJson({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: written.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  });
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: MediaType.ociManifest, ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }],
    }),
  );
  const bytes = written.reduce((a, l) => a + l.size, 0) + config.size + manifest.size;
  return { layout, bytes, layers: written };
}

/**
 * Writes one layer: a tar holding `name` with `size` random bytes, gzipped at level 0 (stored blocks). Random data
 * does not compress anyway, and level 0 keeps skopeo from recompressing (it sees gzip) at no CPU cost here.
 */
async function writeLayer(blobs: string, name: string, size: number): Promise<{ digest: string; size: number; diffId: string }> {
  const diff = createHash('sha256');
  const compressed = createHash('sha256');
  let compressedSize = 0;
  async function* tar() {
    const parts = [tarHeader(name, size)];
    for (let left = size; left > 0; left -= MiB) parts.push(randomBytes(Math.min(MiB, left)));
    parts.push(Buffer.alloc((512 - (size % 512)) % 512), Buffer.alloc(1024)); // pad the file, then end-of-archive
    for (const p of parts) {
      diff.update(p);
      yield p;
    }
  }
  const tmp = join(blobs, `.tmp-${name}`);
  await pipeline(
    Readable.from(tar()),
    createGzip({ level: 0 }),
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        compressed.update(chunk);
        compressedSize += chunk.length;
        done(null, chunk);
      },
    }),
    createWriteStream(tmp),
  );
  const hex = compressed.digest('hex');
  await rename(tmp, join(blobs, hex));
  return { digest: `sha256:${hex}`, size: compressedSize, diffId: `sha256:${diff.digest('hex')}` };
}

/** A ustar header for a regular file (POSIX.1-1988). */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (value: string, offset: number, length: number) => h.write(value.slice(0, length), offset, length, 'ascii');
  const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0') + '\0';
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put('        ', 148, 8); // checksum field counts as spaces while summing
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}
