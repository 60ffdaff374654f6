// Manifest media types Berth understands (image-spec media-types.md, Docker image manifest v2 schema 2).
export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociLayout: 'application/vnd.oci.layout.header.v1+json',
} as const;

/** Manifests that point at blobs (config + layers). */
export const imageManifestTypes: readonly string[] = [MediaType.dockerManifest, MediaType.ociManifest];
/** Manifests that point at other manifests. */
export const indexManifestTypes: readonly string[] = [MediaType.dockerManifestList, MediaType.ociIndex];
export const manifestTypes: readonly string[] = [...imageManifestTypes, ...indexManifestTypes];

export function isIndexType(mediaType: string): boolean {
  return indexManifestTypes.includes(mediaType);
}
