import type { Digest } from '../core/digest.js';
import { formatVersion, parseVersion, type TagVersion } from '../core/hlc.js';

// Tag records as replication moves them: what a source reports, and their wire form in the Berth replication API.

/** A tag as the source knows it: `digest` null for a deleted tag (Berth tombstones); `version` between Berth peers. */
export interface SourceTag {
  name: string;
  digest: Digest | null;
  version?: TagVersion;
}

/** Wire form of a tag record in the Berth replication API. */
export interface WireTag {
  name: string;
  digest: string | null;
  version: string;
}

export function toWire(t: { name: string; digest: string | null; version: TagVersion }): WireTag {
  return { name: t.name, digest: t.digest, version: formatVersion(t.version) };
}

export function fromWire(w: WireTag): SourceTag {
  const version = parseVersion(w.version);
  return { name: w.name, digest: w.digest as Digest | null, ...(version && { version }) };
}
