// How the Redis MetaStore's values read and write: tag versions, tag and link strings, outbox members, records.
import type { Digest } from '../../../core/digest.js';
import type { TagVersion } from '../../../core/hlc.js';
import type { ManifestRecord, OutboxEvent, TagRecord } from '../meta-store.js';

/** A version as the scripts' three arguments; refused when it could not round-trip through a space-separated string. */
export function versionArgs(v: TagVersion): [string, string, string] {
  if (!Number.isSafeInteger(v.wall) || !Number.isSafeInteger(v.logical) || v.wall < 0 || v.logical < 0 || !/^\S+$/.test(v.idc)) {
    throw new Error(`invalid tag version ${JSON.stringify(v)}`);
  }
  return [String(v.wall), String(v.logical), v.idc];
}

export function parseTag(repository: string, name: string, v: string): TagRecord {
  const [digest, wall, logical, idc] = v.split(' ') as [string, string, string, string];
  return {
    repository,
    name,
    digest: digest === '-' ? null : (digest as Digest),
    version: { wall: Number(wall), logical: Number(logical), idc },
  };
}

export function parseLink(v: string): { size: number; linkedAt: number } {
  const [size, linkedAt] = v.split(' ');
  return { size: Number(size), linkedAt: Number(linkedAt) };
}

export function parseEvent(member: string): OutboxEvent {
  const space = member.indexOf(' ');
  const body = JSON.parse(member.slice(space + 1)) as Omit<OutboxEvent, 'seq'>;
  const e: OutboxEvent = { seq: Number(member.slice(0, space)), type: body.type, repository: body.repository, at: body.at };
  if (body.digest !== undefined) e.digest = body.digest;
  if (body.tag !== undefined) e.tag = body.tag;
  if (body.version !== undefined) e.version = body.version;
  if (body.origin !== undefined) e.origin = body.origin;
  return e;
}

/** Only the contract's fields, so nothing else the caller's object carries is stored. */
export function manifestOf(m: ManifestRecord): ManifestRecord {
  const out: ManifestRecord = {
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.size,
    blobs: m.blobs,
    children: m.children,
    createdAt: m.createdAt,
  };
  if (m.artifactType !== undefined) out.artifactType = m.artifactType;
  if (m.subject !== undefined) out.subject = m.subject;
  if (m.annotations !== undefined) out.annotations = m.annotations;
  return out;
}

export function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
