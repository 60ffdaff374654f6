import type { Digest } from '../../core/digest.js';
import type { TorrentCatalog } from './metainfo.js';
import type { SwarmDirectory } from './swarm-directory.js';

// How far a blob has spread: the live peers of its swarm, per IDC, for the console's picture. Read from the
// tracker's directory (what agents announced), so it is as fresh as their last announce.

export interface SwarmPeerView {
  peer_id: string;
  address: string;
  /** 0…1 of the blob the peer holds. */
  progress: number;
  complete: boolean;
  origin: boolean;
}

export interface SwarmView {
  digest: Digest;
  info_hash: string;
  size: number;
  /** Per IDC: its peers, and how many nodes (agents, not the origin's seed) hold the blob or are fetching it. */
  idcs: { idc: string; complete: number; downloading: number; peers: SwarmPeerView[] }[];
}

/** The swarm of `digest`, or undefined when no torrent was ever made for it (nobody fetched it by P2P). */
export async function swarmView(catalog: TorrentCatalog, directory: SwarmDirectory, digest: Digest): Promise<SwarmView | undefined> {
  const torrent = await catalog.forBlob(digest);
  if (!torrent) return undefined;
  const byIdc = new Map<string, SwarmPeerView[]>();
  for (const p of await directory.peers(torrent.infoHash)) {
    if (p.flagged) continue;
    const view: SwarmPeerView = {
      peer_id: p.peerId,
      address: `${p.ip}:${p.port}`,
      progress: torrent.size > 0 ? Math.max(0, Math.min(1, 1 - p.left / torrent.size)) : 1,
      complete: p.left === 0,
      origin: p.origin,
    };
    byIdc.set(p.idc, [...(byIdc.get(p.idc) ?? []), view]);
  }
  const idcs = [...byIdc.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([idc, peers]) => {
      const nodes = peers.filter((p) => !p.origin);
      return { idc, complete: nodes.filter((p) => p.complete).length, downloading: nodes.filter((p) => !p.complete).length, peers };
    });
  return { digest, info_hash: torrent.infoHash, size: torrent.size, idcs };
}
