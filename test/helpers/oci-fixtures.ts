// Content to push in tests: random blobs, real gzip'd tar layers, image configs, and every manifest shape the
// registry must take (OCI image manifest, Docker schema 2, OCI index, Docker manifest list, artifacts with an
// artifactType and the empty config, referrers with a subject), plus an OCI image layout on disk for skopeo.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { digestOf } from '../../core/digest.js';
import { MediaType } from '../../core/media-types.js';

export const LayerType = {
  ociGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;
export const ConfigType = {
  oci: 'application/vnd.oci.image.config.v1+json',
  docker: 'application/vnd.docker.container.image.v1+json',
} as const;

/** Bytes addressed by their digest. */
export interface Blob {
  bytes: Buffer;
  digest: string;
  size: number;
  mediaType: string;
}

/** A layer also knows its DiffID (digest of the uncompressed tar), which the image config lists. */
export interface Layer extends Blob {
  diffId: string;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Platform;
  data?: string;
}

/** A manifest as pushed: its exact bytes, their digest, and the Content-Type to push it with. */
export interface Manifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  json: Record<string, any>;
}

/** Something pushable: blobs first, then the manifest (and, for an index, its child images before it). */
export interface Image {
  manifest: Manifest;
  blobs: Blob[];
  children: Image[];
}

export function blobOf(bytes: Buffer | string, mediaType = 'application/octet-stream'): Blob {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  return { bytes: b, digest: digestOf(b), size: b.length, mediaType };
}

export function randomBlob(size: number, mediaType = 'application/octet-stream'): Blob {
  return blobOf(randomBytes(size), mediaType);
}

export function descriptorOf(x: Blob | Manifest, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: x.mediaType, digest: x.digest, size: x.bytes.length, ...extra };
}

/** The OCI empty descriptor's content: `{}` (image-spec manifest.md, "Guidance for an Empty Descriptor"). */
export const emptyConfig: Blob = blobOf('{}', MediaType.ociEmpty);

/**
 * Manifest bytes. Indented by 3 and newline-terminated on purpose: a registry that re-serialises instead of
 * keeping the exact bytes changes the digest, and the tests see it.
 */
export function encodeManifest(json: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(json, null, 3) + '\n');
}

export function manifestOf(json: Record<string, any>, mediaType: string = json.mediaType, bytes = encodeManifest(json)): Manifest {
  return { bytes, digest: digestOf(bytes), mediaType, json };
}

/** A POSIX ustar archive of regular files, so layers unpack in podman and their DiffIDs verify. */
export function tarArchive(files: { name: string; content: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const h = Buffer.alloc(512, 0);
    h.write(f.name, 0, 100, 'utf8');
    h.write('0000644\0', 100, 'ascii');
    h.write('0000000\0', 108, 'ascii');
    h.write('0000000\0', 116, 'ascii');
    h.write(f.content.length.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
    h.write('14000000000\0', 136, 'ascii'); // a fixed mtime keeps layers reproducible given the same content
    h.write('        ', 148, 'ascii');
    h.write('0', 156, 'ascii');
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    h.write('root', 265, 'ascii');
    h.write('root', 297, 'ascii');
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    parts.push(h, f.content, Buffer.alloc((512 - (f.content.length % 512)) % 512, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}

/** A gzip'd tar layer holding one file of `size` random bytes. */
export function gzipLayer(size = 1024, mediaType: string = LayerType.ociGzip, name = `data-${randomBytes(4).toString('hex')}.bin`): Layer {
  const tar = tarArchive([{ name, content: randomBytes(size) }]);
  return { ...blobOf(gzipSync(tar, { level: 1 }), mediaType), diffId: digestOf(tar) };
}

export function imageConfig(diffIds: string[], platform: Platform, mediaType: string = ConfigType.oci): Blob {
  const config = {
    created: '2024-01-01T00:00:00Z',
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'berth test fixture' })),
  };
  return blobOf(JSON.stringify(config), mediaType);
}

export interface ImageOptions {
  layers?: number;
  layerSize?: number;
  format?: 'oci' | 'docker';
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** A runnable-shaped image: config + gzip'd tar layers + an OCI image manifest or a Docker schema 2 manifest. */
export function image(opts: ImageOptions = {}): Image {
  const format = opts.format ?? 'oci';
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers = Array.from({ length: opts.layers ?? 2 }, () =>
    gzipLayer(opts.layerSize ?? 1024, format === 'oci' ? LayerType.ociGzip : LayerType.dockerGzip),
  );
  const config = imageConfig(
    layers.map((l) => l.diffId),
    platform,
    format === 'oci' ? ConfigType.oci : ConfigType.docker,
  );
  const manifest =
    format === 'oci'
      ? ociManifest({ config: descriptorOf(config), layers: layers.map((l) => descriptorOf(l)), annotations: opts.annotations })
      : dockerManifest({ config: descriptorOf(config), layers: layers.map((l) => descriptorOf(l)) });
  return { manifest, blobs: [config, ...layers], children: [] };
}

export function ociManifest(o: {
  config: Descriptor;
  layers: Descriptor[];
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}): Manifest {
  return manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    ...(o.artifactType ? { artifactType: o.artifactType } : {}),
    config: o.config,
    layers: o.layers,
    ...(o.subject ? { subject: o.subject } : {}),
    ...(o.annotations ? { annotations: o.annotations } : {}),
  });
}

export function dockerManifest(o: { config: Descriptor; layers: Descriptor[] }): Manifest {
  return manifestOf({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config: o.config, layers: o.layers });
}

/** An OCI index over images (each descriptor carries its image's platform). */
export function ociIndex(
  children: Image[],
  o: { artifactType?: string; subject?: Descriptor; annotations?: Record<string, string> } = {},
): Image {
  const manifest = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    ...(o.artifactType ? { artifactType: o.artifactType } : {}),
    manifests: children.map((c) => childDescriptor(c)),
    ...(o.subject ? { subject: o.subject } : {}),
    ...(o.annotations ? { annotations: o.annotations } : {}),
  });
  return { manifest, blobs: [], children };
}

export function dockerManifestList(children: Image[]): Image {
  const manifest = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.dockerManifestList,
    manifests: children.map((c) => childDescriptor(c)),
  });
  return { manifest, blobs: [], children };
}

function childDescriptor(c: Image): Descriptor {
  const d = descriptorOf(c.manifest);
  const cfg = c.manifest.json.config as Descriptor | undefined;
  const configBlob = cfg && c.blobs.find((b) => b.digest === cfg.digest);
  if (configBlob) {
    try {
      const parsed = JSON.parse(configBlob.bytes.toString()) as { os?: string; architecture?: string; variant?: string };
      if (parsed.os && parsed.architecture) {
        d.platform = { architecture: parsed.architecture, os: parsed.os, ...(parsed.variant ? { variant: parsed.variant } : {}) };
      }
    } catch {
      /* not an image config (artifact): no platform */
    }
  }
  return d;
}

/** A multi-platform OCI index (or Docker manifest list) over fresh images. */
export function multiArch(
  format: 'oci' | 'docker' = 'oci',
  platforms: Platform[] = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
  ],
  layerSize = 1024,
): Image {
  const children = platforms.map((platform) => image({ format, platform, layerSize }));
  return format === 'oci' ? ociIndex(children) : dockerManifestList(children);
}

/**
 * An artifact (image-spec 1.1): `artifactType` set, the empty config, optional blobs as layers (or the empty
 * descriptor when there are none), and optionally a `subject`, which makes it a referrer of that manifest.
 */
export function artifact(o: {
  artifactType: string;
  subject?: Manifest;
  annotations?: Record<string, string>;
  blobs?: Blob[];
}): Image {
  const layers = o.blobs?.length ? o.blobs : [emptyConfig];
  const manifest = ociManifest({
    artifactType: o.artifactType,
    config: descriptorOf(emptyConfig),
    layers: layers.map((b) => descriptorOf(b)),
    subject: o.subject ? descriptorOf(o.subject) : undefined,
    annotations: o.annotations,
  });
  return { manifest, blobs: dedupe([emptyConfig, ...layers]), children: [] };
}

/** An old-style referrer: no artifactType, so the referrers API reports its config's mediaType instead. */
export function configTypedReferrer(subject: Manifest, configMediaType: string, annotations?: Record<string, string>): Image {
  const config = blobOf(JSON.stringify({ note: randomBytes(4).toString('hex') }), configMediaType);
  const manifest = ociManifest({
    config: descriptorOf(config),
    layers: [descriptorOf(emptyConfig)],
    subject: descriptorOf(subject),
    annotations,
  });
  return { manifest, blobs: [config, emptyConfig], children: [] };
}

/** An OCI image manifest over `img`'s blobs whose serialisation is exactly `size` bytes (padded annotation). */
export function manifestOfSize(img: Image, size: number): Manifest {
  const json = { ...img.manifest.json, annotations: { 'org.example.padding': '' } } as Record<string, any>;
  const base = encodeManifest(json).length;
  if (size < base) throw new Error(`manifest cannot be smaller than ${base} bytes`);
  json.annotations['org.example.padding'] = 'x'.repeat(size - base);
  const m = manifestOf(json);
  if (m.bytes.length !== size) throw new Error(`padding produced ${m.bytes.length} bytes, wanted ${size}`);
  return m;
}

/** The DiffIDs an image's config lists (the digests of its uncompressed layers), in order. */
export function diffIdsOf(img: Image): string[] {
  const cfg = img.manifest.json.config as Descriptor;
  const blob = img.blobs.find((b) => b.digest === cfg.digest);
  if (!blob) throw new Error('image has no config blob');
  return (JSON.parse(blob.bytes.toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
}

/** Every blob of an image and its children, each once. */
export function allBlobs(img: Image): Blob[] {
  return dedupe([...img.children.flatMap(allBlobs), ...img.blobs]);
}

function dedupe(blobs: Blob[]): Blob[] {
  const seen = new Set<string>();
  return blobs.filter((b) => (seen.has(b.digest) ? false : (seen.add(b.digest), true)));
}

/**
 * Writes an OCI image layout (image-spec image-layout.md) holding `images`, each under its tag
 * (`org.opencontainers.image.ref.name`), so `skopeo copy oci:<dir>:<tag>` can read it.
 */
export async function writeOciLayout(dir: string, images: { tag: string; image: Image }[]): Promise<void> {
  const blobsDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const write = async (digest: string, bytes: Buffer) => writeFile(join(blobsDir, digest.slice('sha256:'.length)), bytes);
  const writeImage = async (img: Image): Promise<void> => {
    for (const c of img.children) await writeImage(c);
    for (const b of img.blobs) await write(b.digest, b.bytes);
    await write(img.manifest.digest, img.manifest.bytes);
  };
  for (const { image: img } of images) await writeImage(img);
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: images.map(({ tag, image: img }) => descriptorOf(img.manifest, { annotations: { 'org.opencontainers.image.ref.name': tag } })),
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
}
