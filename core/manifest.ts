import { RegistryError } from './errors.js';
import { parseDigest, type Digest } from './digest.js';
import { MediaType, imageManifestTypes, indexManifestTypes, manifestTypes } from './media-types.js';

// Manifest validation (image-spec manifest.md, image-index.md, descriptor.md; Docker schema 2). Parsing
// extracts what the index needs: referenced blobs, children, subject, artifactType.

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: { architecture?: string; os?: string; variant?: string };
}

export interface ParsedManifest {
  mediaType: string;
  /** image-spec: the artifactType, or for an image manifest without one the config's media type. */
  artifactType?: string;
  subject?: Descriptor;
  config?: Descriptor;
  layers: Descriptor[];
  /** An index's children. */
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail === undefined ? {} : { detail });
}

function stripParams(contentType: string | undefined): string | undefined {
  const t = contentType?.split(';')[0]?.trim().toLowerCase();
  return t || undefined;
}

function parseDescriptor(v: unknown, where: string): Descriptor {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${where}: descriptor must be an object`);
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType.length === 0) throw invalid(`${where}: mediaType must be a string`);
  if (typeof d.digest !== 'string') throw invalid(`${where}: digest must be a string`);
  let digest: Digest;
  try {
    digest = parseDigest(d.digest);
  } catch {
    throw invalid(`${where}: invalid digest`, { digest: String(d.digest).slice(0, 200) });
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${where}: size must be a non-negative integer`);
  const out: Descriptor = { mediaType: d.mediaType, digest, size: d.size };
  if (d.artifactType !== undefined) {
    if (typeof d.artifactType !== 'string') throw invalid(`${where}: artifactType must be a string`);
    out.artifactType = d.artifactType;
  }
  if (d.annotations !== undefined) out.annotations = parseAnnotations(d.annotations, where);
  if (d.urls !== undefined) {
    if (!Array.isArray(d.urls) || !d.urls.every((u) => typeof u === 'string')) throw invalid(`${where}: urls must be strings`);
    out.urls = d.urls as string[];
  }
  if (d.platform !== undefined) {
    if (typeof d.platform !== 'object' || d.platform === null) throw invalid(`${where}: platform must be an object`);
    out.platform = d.platform as Descriptor['platform'];
  }
  return out;
}

function parseAnnotations(v: unknown, where: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw invalid(`${where}: annotations must map strings to strings`);
  }
  return v as Record<string, string>;
}

function parseDescriptors(v: unknown, where: string): Descriptor[] {
  if (!Array.isArray(v)) throw invalid(`${where} must be an array`);
  return v.map((d, i) => parseDescriptor(d, `${where}[${i}]`));
}

/**
 * Parses and validates manifest bytes. The media type comes from `contentType` when it names a manifest type,
 * else from the body's `mediaType`, else from the shape (image-spec lets mediaType be omitted).
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw invalid('manifest is not valid JSON', { reason: (e as Error).message });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('manifest must be a JSON object');
  const m = doc as Record<string, unknown>;

  const declared = stripParams(contentType);
  const bodyType = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  if (m.mediaType !== undefined && typeof m.mediaType !== 'string') throw invalid('mediaType must be a string');
  if (declared === MediaType.dockerSchema1 || declared === MediaType.dockerSchema1Signed || m.schemaVersion === 1) {
    throw invalid('Docker schema 1 manifests are not supported', { mediaType: declared ?? bodyType });
  }
  if (m.schemaVersion !== 2) throw invalid('schemaVersion must be 2');

  let mediaType: string;
  if (declared && manifestTypes.includes(declared)) mediaType = declared;
  else if (bodyType && manifestTypes.includes(bodyType)) mediaType = bodyType;
  else if (Array.isArray(m.manifests)) mediaType = MediaType.ociIndex;
  else if (m.config !== undefined) mediaType = MediaType.ociManifest;
  else throw invalid('unknown manifest media type', { mediaType: declared ?? bodyType ?? null });
  // image-spec: when both are present they must agree.
  if (bodyType && bodyType !== mediaType) throw invalid('mediaType in the manifest does not match Content-Type', { contentType: declared, mediaType: bodyType });

  const out: ParsedManifest = { mediaType, layers: [], manifests: [] };
  if (m.artifactType !== undefined) {
    if (typeof m.artifactType !== 'string') throw invalid('artifactType must be a string');
    out.artifactType = m.artifactType;
  }
  if (m.annotations !== undefined) out.annotations = parseAnnotations(m.annotations, 'annotations');
  if (m.subject !== undefined) out.subject = parseDescriptor(m.subject, 'subject');

  if (imageManifestTypes.includes(mediaType)) {
    if (m.config === undefined) throw invalid('image manifest needs a config descriptor');
    out.config = parseDescriptor(m.config, 'config');
    out.layers = m.layers === undefined ? [] : parseDescriptors(m.layers, 'layers');
    if (mediaType === MediaType.dockerManifest && out.layers.length === 0) throw invalid('Docker image manifest needs at least one layer');
    out.artifactType ??= out.config.mediaType;
  } else if (indexManifestTypes.includes(mediaType)) {
    out.manifests = parseDescriptors(m.manifests, 'manifests');
  }
  return out;
}

/** Layers a registry need not hold (foreign / non-distributable layers with URLs, e.g. Windows base layers). */
export function isForeignLayer(d: Descriptor): boolean {
  return (d.urls?.length ?? 0) > 0 && /foreign|nondistributable/.test(d.mediaType);
}
