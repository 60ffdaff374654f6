import type { Digest } from '../core/digest.js';
import type { TagVersion } from '../core/hlc.js';
import type { RemoteRegistry } from './endpoint.js';
import type { PolicySelector } from './filters.js';
import type { Lineage } from './lineage.js';
import { RemoteSource, type ArtifactSource, type LocalSource } from './source.js';
import type { SourceTag } from './tags.js';
import type { DestinationClient } from './transfer.js';

// Which way a policy copies, worked out once per policy: where it reads, where it writes and what its writes say
// about where they come from. The copy flow (flow.ts) and planning (planner.ts) see only a Route and never ask
// whether they push or pull (the shape of Harbor's source and destination adapters).

/** The registry a policy writes into (destinations.ts: a remote one for push, this one for pull). */
export interface Destination {
  /** A Berth: writes carry tag versions (last writer wins there), and it deletes single tags. */
  readonly isBerth: boolean;
  /** Its IDC when known. */
  readonly idc: string | null;
  /** The client that writes into `repository` (authorization may be per repository). */
  client(repository: string): Promise<DestinationClient>;
  /** Makes `repository` writable: creates its project there when missing. */
  prepare(repository: string): Promise<void>;
  /** Tags of `repository` there, with versions and tombstones when it keeps them; `wanted` are the source's,
   *  for a registry that must be asked tag by tag. */
  tags(repository: string, wanted: SourceTag[]): Promise<Map<string, SourceTag>>;
  /** The digest `tag` points at there, if any. */
  tagDigest(repository: string, tag: string): Promise<Digest | undefined>;
  /** Repositories there that hold `digest` (candidates for a cross-repository mount); [] when unknown. */
  holders(digest: Digest): Promise<string[]>;
}

export interface Route {
  source: ArtifactSource;
  destination: Destination;
  /** Both ends keep tag versions: a plan never sends an older value over a newer one. */
  versioned: boolean;
  /** The IDC the writes come from (Berth-Replicated-From), for a tag at `version`. */
  writerIdc(version?: TagVersion): string;
  /** The version a tag's current value replaced, for a Berth peer to tell a concurrent write; undefined: unknown. */
  tagBase(repository: string, tag: string, current: TagVersion): string | undefined;
  /** Destination repositories that may hold `digest` already, besides those this policy sent it to. */
  mountCandidates(digest: Digest): Promise<string[]>;
}

/** Push: from this registry (this IDC's writes) to `to`. */
export function pushRoute(o: { local: LocalSource; to: Destination; idc: string; selector: PolicySelector; lineage: Lineage }): Route {
  return {
    source: o.local,
    destination: o.to,
    versioned: o.to.isBerth,
    writerIdc: () => o.idc,
    tagBase: (repository, tag, current) => o.lineage.baseOf(repository, tag, current),
    // Where the policy sends the local repositories that hold the blob.
    mountCandidates: async (digest) => {
      const out: string[] = [];
      for (const repo of await o.local.holders(digest, 8)) {
        if (!o.selector.repositoryMatches(repo)) continue;
        try {
          out.push(o.selector.destination(repo));
        } catch {
          /* not replicated */
        }
      }
      return out;
    },
  };
}

/** Pull: from a remote registry into `to` (this one). The writes come from the remote's IDC, else from the IDC
 *  that versioned the tag. */
export function pullRoute(o: { from: RemoteRegistry; to: Destination }): Route {
  return {
    source: new RemoteSource(o.from),
    destination: o.to,
    versioned: o.from.isBerth,
    writerIdc: (version) => o.from.idc ?? version?.idc ?? '',
    tagBase: () => undefined,
    mountCandidates: (digest) => o.to.holders(digest),
  };
}
