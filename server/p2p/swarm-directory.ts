import { ConflictError, type Collection, type MetaStore } from '../../storage-adapters/meta/meta-store.js';

// Who is in which swarm: the tracker's state. Kept in the MetaStore so several origins sharing one (Redis, or
// SQLite on one host) answer from the same peer lists; each origin reads it through a short cache.

export interface PeerEntry {
  id: number;
  /** `<infoHash>:<peerId>`, unique. */
  key: string;
  infoHash: string;
  peerId: string;
  ip: string;
  port: number;
  idc: string;
  /** Bytes the peer still lacks (0: a seeder). */
  left: number;
  /** An origin's own seed. */
  origin: boolean;
  /** Reported by a peer for sending corrupt data: never handed out again. */
  flagged?: boolean;
  seenAt: number;
}

export type PeerAnnouncement = Omit<PeerEntry, 'id' | 'key' | 'seenAt' | 'flagged'>;

/** How long one origin trusts its copy of a swarm's peer list before reading the store again. */
const cacheMs = 1000;

export class SwarmDirectory {
  private readonly entries: Collection<PeerEntry>;
  private readonly ids = new Map<string, number>();
  private readonly cache = new Map<string, { at: number; peers: Map<string, PeerEntry> }>();

  constructor(
    meta: MetaStore,
    /** A peer that has not announced for this long is gone. */
    readonly ttlMs: number,
  ) {
    this.entries = meta.collection<PeerEntry>('p2p_peers', { unique: ['key'] });
  }

  async upsert(a: PeerAnnouncement): Promise<void> {
    const key = `${a.infoHash}:${a.peerId}`;
    const flagged = this.cache.get(a.infoHash)?.peers.get(a.peerId)?.flagged;
    const entry = { ...a, key, seenAt: Date.now(), ...(flagged && { flagged }) };
    const known = this.ids.get(key);
    let saved: PeerEntry | undefined;
    if (known !== undefined) {
      saved = { ...entry, id: known };
      try {
        await this.entries.update(saved);
      } catch {
        // Purged meanwhile (by this or another origin): insert it again.
        this.ids.delete(key);
        saved = undefined;
      }
    }
    if (!saved) {
      try {
        saved = await this.entries.insert(entry);
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
        const other = await this.entries.findOne('key', key);
        if (!other) throw e;
        saved = { ...entry, id: other.id };
        await this.entries.update(saved);
      }
      this.ids.set(key, saved.id);
    }
    this.cache.get(a.infoHash)?.peers.set(a.peerId, saved);
  }

  /**
   * Marks the peer at `addr` (ip:port as handed out) that another peer caught sending corrupt pieces. By address:
   * a liar can change its peer id from one connection to the next, not the address it announced.
   */
  async flag(infoHash: string, addr: string): Promise<void> {
    for (const entry of await this.peers(infoHash)) {
      if (`${entry.ip}:${entry.port}` !== addr || entry.flagged || entry.origin) continue;
      const flagged = { ...entry, flagged: true };
      await this.entries.update(flagged).catch(() => undefined);
      this.cache.get(infoHash)?.peers.set(entry.peerId, flagged);
    }
  }

  async remove(infoHash: string, peerId: string): Promise<void> {
    const key = `${infoHash}:${peerId}`;
    this.cache.get(infoHash)?.peers.delete(peerId);
    const id = this.ids.get(key) ?? (await this.entries.findOne('key', key))?.id;
    this.ids.delete(key);
    if (id !== undefined) await this.entries.delete(id);
  }

  /** The swarm's live peers. Stale entries are purged on the way. */
  async peers(infoHash: string): Promise<PeerEntry[]> {
    const now = Date.now();
    let cached = this.cache.get(infoHash);
    if (!cached || now - cached.at > cacheMs) {
      const { items } = await this.entries.list({ where: { infoHash } });
      const peers = new Map<string, PeerEntry>();
      for (const e of items) {
        if (now - e.seenAt > this.ttlMs) {
          this.ids.delete(e.key);
          await this.entries.delete(e.id).catch(() => false);
        } else {
          peers.set(e.peerId, e);
        }
      }
      cached = { at: now, peers };
      this.cache.set(infoHash, cached);
    }
    return [...cached.peers.values()].filter((e) => now - e.seenAt <= this.ttlMs);
  }
}
