// What an S3 upload is between requests: the JSON at `<prefix>uploads/<id>/state` (layout: s3.ts).

export interface StagedPart {
  n: number;
  etag: string;
  size: number;
}

export interface Segment {
  offset: number;
  size: number;
}

/** What `<prefix>uploads/<id>/state` holds. size = Σ parts + Σ segments, or the `data` object's size when assembled. */
export interface UploadState {
  /** Random per createUpload, so a hash state cached for an aborted-and-recreated upload of the same id is
   *  never trusted for the new bytes. */
  incarnation: string;
  startedAt: number;
  size: number;
  /** The S3 multipart upload on the `data` key, created when the first part is cut. */
  multipartId?: string;
  parts: StagedPart[];
  segments: Segment[];
  /** The multipart upload was completed (a commit whose digest check needed the bytes): `data` holds them all. */
  assembled?: boolean;
}

/** The key of the hash state cached for an upload at one incarnation and size (S3BlobStore.hashers). */
export function hasherKey(id: string, state: UploadState): string {
  return `${id} ${state.incarnation} ${state.size}`;
}
