// Who a piece in flight is being fetched from: a peer over the wire (peer.ts) or the origin's web seed over
// HTTP (web-seed.ts). The swarm marks each piece it has started with its source so no one else starts it.

export interface PieceSource {
  /**
   * 'peer': fetched block by block over the wire, so other peers may help with it (endgame) and its requests are
   * recounted from the peers' own lists; 'webseed': one HTTP range request for the whole piece.
   */
  readonly kind: 'peer' | 'webseed';
  /** For logs: a peer's address, or 'webseed'. */
  readonly label: string;
  /** Gone: what it was fetching is free for another source to adopt. */
  readonly closed: boolean;
}
