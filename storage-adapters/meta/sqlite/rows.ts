// Rows as SQLite returns them, and the records they become.
import type { Digest } from '../../../core/digest.js';
import type { TagVersion } from '../../../core/hlc.js';
import type { ManifestRecord, OutboxEvent, OutboxEventType, TagRecord } from '../meta-store.js';

export interface ManifestRow {
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  subject: string | null;
  blobs: string;
  children: string;
  annotations: string | null;
  created_at: number;
}

export interface TagRow {
  repository: string;
  name: string;
  digest: string | null;
  wall: number;
  logical: number;
  idc: string;
}

export interface OutboxRow {
  seq: number;
  type: OutboxEventType;
  repository: string;
  digest: string | null;
  tag: string | null;
  wall: number | null;
  logical: number | null;
  idc: string | null;
  origin: string | null;
  at: number;
}

export function versionOf(row: { wall: number; logical: number; idc: string }): TagVersion {
  return { wall: row.wall, logical: row.logical, idc: row.idc };
}

export function tagOf(row: TagRow): TagRecord {
  return { repository: row.repository, name: row.name, digest: row.digest as Digest | null, version: versionOf(row) };
}

export function manifestOf(row: ManifestRow): ManifestRecord {
  const m: ManifestRecord = {
    digest: row.digest as Digest,
    mediaType: row.media_type,
    size: row.size,
    blobs: JSON.parse(row.blobs) as Digest[],
    children: JSON.parse(row.children) as Digest[],
    createdAt: row.created_at,
  };
  if (row.artifact_type !== null) m.artifactType = row.artifact_type;
  if (row.subject !== null) m.subject = row.subject as Digest;
  if (row.annotations !== null) m.annotations = JSON.parse(row.annotations) as Record<string, string>;
  return m;
}

export function eventOf(row: OutboxRow): OutboxEvent {
  const e: OutboxEvent = { seq: row.seq, type: row.type, repository: row.repository, at: row.at };
  if (row.digest !== null) e.digest = row.digest as Digest;
  if (row.tag !== null) e.tag = row.tag;
  if (row.wall !== null && row.logical !== null && row.idc !== null) {
    e.version = { wall: row.wall, logical: row.logical, idc: row.idc };
  }
  if (row.origin !== null) e.origin = row.origin;
  return e;
}
