// BitTorrent peer ids of Berth's own peers: -BA<version>- (agents, p2p-agent/) and -BO<version>- (the origin's
// seed, server/p2p/), then 12 random bytes. Both sides read each other's version from it, so it lives here once.
// From version 0200 a Berth peer takes and serves whole pieces as blocks; 0100 peers take 64 KiB blocks;
// everyone else gets BEP 3's 16 KiB.

export const agentPeerIdPrefix = '-BA0200-';
export const originPeerIdPrefix = '-BO0200-';

export interface BerthPeer {
  role: 'agent' | 'origin';
  version: number;
}

/** Who a peer id says it is; undefined for any other BitTorrent client. */
export function parseBerthPeerId(id: Uint8Array | null | undefined): BerthPeer | undefined {
  if (!id) return undefined;
  const m = /^-B([AO])(\d{4})-$/.exec(Buffer.from(id.buffer, id.byteOffset, Math.min(8, id.byteLength)).toString('latin1'));
  return m ? { role: m[1] === 'O' ? 'origin' : 'agent', version: Number(m[2]) } : undefined;
}

/** Whether this Berth peer exchanges whole pieces as single blocks. */
export function takesWholePieces(p: BerthPeer): boolean {
  return p.version >= 200;
}
