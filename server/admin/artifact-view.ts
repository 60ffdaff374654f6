import { createHash } from 'node:crypto';
import type { ArtifactDetail } from '../../registry/artifacts.js';
import type { LabelRecord } from '../../registry/labels.js';
import type { Registry } from '../../registry/registry.js';
import type { ManifestRecord, TagRecord } from '../../storage-adapters/meta/meta-store.js';
import { isIndexType } from '../../core/media-types.js';

// Harbor's Artifact, Tag, Accessory, Reference and Label shapes (api/v2.0/swagger.yaml definitions), built from
// what the registry stores. Berth keeps no numeric ids for repositories, artifacts or tags; Harbor's clients
// show them and send them back only for labels, so they are derived from the names: stable on every instance
// and IDC, no store write on a read.

/** A positive id (48 bits, a safe integer) derived from `parts`. */
export function stableId(...parts: string[]): number {
  return parseInt(createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 12), 16) + 1;
}

export const repositoryId = (repository: string) => stableId('repository', repository);
export const artifactId = (repository: string, digest: string) => stableId('artifact', repository, digest);
const tagId = (repository: string, tag: string) => stableId('tag', repository, tag);

/** Harbor's pull_time for an artifact never pulled (Go's zero time). */
const NEVER = '0001-01-01T00:00:00.000Z';

/** Whether an immutable tag rule of the project covers `repository:tag` (with_immutable_status). */
export function isTagImmutable(registry: Registry, repository: string, tag: string): Promise<boolean> {
  return registry.immutability.isImmutable(repository, tag);
}

/** Harbor's artifact `type`, by the processor its media type selects (IMAGE, CHART, CNAB, WASM, else UNKNOWN). */
export function artifactType(detail: Pick<ArtifactDetail, 'record' | 'manifest'>): string {
  if (isIndexType(detail.record.mediaType)) return 'IMAGE';
  switch (detail.manifest.config?.mediaType) {
    case 'application/vnd.oci.image.config.v1+json':
    case 'application/vnd.docker.container.image.v1+json':
      return 'IMAGE';
    case 'application/vnd.cncf.helm.config.v1+json':
      return 'CHART';
    case 'application/vnd.cnab.manifest.v1':
      return 'CNAB';
    case 'application/vnd.wasm.config.v1+json':
      return 'WASM';
    default:
      return 'UNKNOWN';
  }
}

/** Harbor's `media_type`: the config's media type, or the manifest's for an index. */
export function mediaTypeOf(detail: Pick<ArtifactDetail, 'record' | 'manifest'>): string {
  return detail.manifest.config?.mediaType ?? detail.record.mediaType;
}

/** Harbor's accessory types for a referrer, by its artifactType (else a generic subject accessory). */
export function accessoryType(referrer: ManifestRecord): string {
  switch (referrer.artifactType) {
    case 'application/vnd.dev.cosign.artifact.sig.v1+json':
      return 'signature.cosign';
    case 'application/vnd.cncf.notary.signature':
      return 'signature.notation';
    case 'application/vnd.goharbor.harbor.sbom.v1':
      return 'harbor.sbom';
    default:
      return 'subject.accessory';
  }
}

/** Harbor's extra_attrs of an image: from its config, the author falling back to a maintainer label. */
export function extraAttrs(detail: ArtifactDetail): Record<string, unknown> {
  const c = detail.config;
  if (!c) return {};
  const inner = (c.config && typeof c.config === 'object' ? c.config : {}) as Record<string, unknown>;
  const labels = (inner.Labels && typeof inner.Labels === 'object' ? inner.Labels : {}) as Record<string, unknown>;
  const author = typeof c.author === 'string' && c.author !== '' ? c.author : typeof labels.maintainer === 'string' ? labels.maintainer : '';
  return { architecture: c.architecture ?? '', author, config: inner, created: c.created ?? null, os: c.os ?? '' };
}

export interface ArtifactOptions {
  withTag: boolean;
  withLabel: boolean;
  withAccessory: boolean;
  withImmutableStatus: boolean;
  withScanOverview: boolean;
  withSbomOverview: boolean;
}

interface Where {
  registry: Registry;
  projectId: number;
  repository: string;
  /** The artifact's API path, for addition links (repository name inside the project encoded twice). */
  path: string;
}

export async function tagResponse(w: Pick<Where, 'registry' | 'repository'>, tag: TagRecord, withImmutable: boolean) {
  const pulled = await w.registry.pulls.tagPulled(w.repository, tag.name);
  return {
    id: tagId(w.repository, tag.name),
    repository_id: repositoryId(w.repository),
    artifact_id: artifactId(w.repository, tag.digest!),
    name: tag.name,
    push_time: new Date(tag.version.wall).toISOString(),
    pull_time: pulled ?? NEVER,
    immutable: withImmutable ? await isTagImmutable(w.registry, w.repository, tag.name) : false,
  };
}

export function labelResponse(l: LabelRecord) {
  return {
    id: l.id,
    name: l.name,
    description: l.description,
    color: l.color,
    scope: l.scope,
    project_id: l.project_id,
    creation_time: l.creation_time,
    update_time: l.update_time,
  };
}

export async function accessoryResponse(registry: Registry, repository: string, subject: string, referrer: ManifestRecord) {
  const detail = await registry.artifacts.detail(repository, referrer);
  return {
    id: artifactId(repository, referrer.digest),
    artifact_id: artifactId(repository, referrer.digest),
    subject_artifact_id: artifactId(repository, subject),
    subject_artifact_digest: subject,
    subject_artifact_repo: repository,
    size: detail.size,
    digest: referrer.digest,
    type: accessoryType(referrer),
    icon: '',
    creation_time: new Date(referrer.createdAt).toISOString(),
  };
}

export async function artifactResponse(w: Where, detail: ArtifactDetail, tags: TagRecord[], o: ArtifactOptions) {
  const { record, manifest } = detail;
  const id = artifactId(w.repository, record.digest);
  const pulled = await w.registry.pulls.artifactPulled(w.repository, record.digest);
  const type = artifactType(detail);
  const body: Record<string, unknown> = {
    id,
    type,
    media_type: mediaTypeOf(detail),
    manifest_media_type: record.mediaType,
    ...(manifest.artifactType && { artifact_type: manifest.artifactType }),
    project_id: w.projectId,
    repository_id: repositoryId(w.repository),
    repository_name: w.repository,
    digest: record.digest,
    size: detail.size,
    icon: '',
    push_time: new Date(record.createdAt).toISOString(),
    pull_time: pulled ?? NEVER,
    extra_attrs: extraAttrs(detail),
    annotations: manifest.annotations ?? {},
  };
  if (manifest.manifests.length > 0) {
    body.references = manifest.manifests.map((m) => ({
      parent_id: id,
      child_id: artifactId(w.repository, m.digest),
      child_digest: m.digest,
      ...(m.platform && { platform: m.platform }),
      ...(m.annotations && { annotations: m.annotations }),
      ...(m.urls && { urls: m.urls }),
    }));
  }
  if (o.withTag) body.tags = await Promise.all(tags.map((t) => tagResponse(w, t, o.withImmutableStatus)));
  if (type === 'IMAGE' && !isIndexType(record.mediaType)) {
    body.addition_links = { build_history: { absolute: false, href: `${w.path}/additions/build_history` } };
  }
  if (o.withLabel) body.labels = (await w.registry.labels.of(w.repository, record.digest)).map(labelResponse);
  if (o.withAccessory) {
    const referrers = await w.registry.artifacts.referrers(w.repository, record.digest);
    body.accessories = await Promise.all(referrers.map((r) => accessoryResponse(w.registry, w.repository, record.digest, r)));
  }
  // No scanner: the overviews are empty, as Harbor's are for an artifact never scanned.
  if (o.withScanOverview) body.scan_overview = {};
  if (o.withSbomOverview) body.sbom_overview = {};
  return body;
}
