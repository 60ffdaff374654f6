import { createServer, type Server, type Socket } from 'node:net';
import type { AgentConfig } from '../core/config.js';
import { readCaBundle } from '../core/ca-bundle.js';
import { digestHex, type Digest } from '../core/digest.js';
import type { Logger } from '../core/log.js';
import { BlobCache } from './cache.js';
import { BlobDownload } from './download.js';
import { AgentMetrics } from './metrics.js';
import { OriginClient } from './origin-client.js';
import { originTransport } from './origin-transport.js';
import { connectWire, newPeerId } from './peer.js';
import { PeerWire } from './peer-wire.js';
import { PieceFile } from './piece-file.js';
import { PieceMemory } from './piece-memory.js';
import { Swarm } from './swarm.js';
import { parseTorrent, TorrentError, type Torrent } from './torrent.js';

// The agent's core, without its HTTP face (endpoint.ts): the blob cache, one swarm per torrent it downloads or
// seeds, one download per blob however many clients wait for it, and the TCP port peers connect to.

export interface AgentOptions {
  /** Process-wide Prometheus collectors (off when several agents share a process). */
  processMetrics?: boolean;
  /** Memory for recent pieces. */
  memoryBytes?: number;
}

/** download() found the blob in the cache after all: serve it from there. */
export class AlreadyCached extends Error {
  constructor(readonly digest: Digest) {
    super(`${digest} is cached`);
  }
}

export class Agent {
  readonly metrics: AgentMetrics;
  readonly cache: BlobCache;
  readonly origin: OriginClient;
  readonly peerId = newPeerId();
  private readonly memory: PieceMemory;
  private readonly swarms = new Map<string, Swarm>();
  private readonly swarmOf = new Map<Digest, Swarm>();
  private readonly downloads = new Map<Digest, BlobDownload>();
  private readonly starting = new Map<Digest, Promise<BlobDownload>>();
  private readonly peerServer: Server;
  private readonly sockets = new Set<Socket>();
  private peerPort = 0;
  private closed = false;

  constructor(
    readonly config: AgentConfig,
    readonly log: Logger,
    opts: AgentOptions = {},
  ) {
    this.metrics = new AgentMetrics({ processMetrics: opts.processMetrics });
    this.memory = new PieceMemory(opts.memoryBytes ?? 64 * 1024 * 1024);
    this.origin = new OriginClient(config.origin, originTransport(config.agent_ca_file ? readCaBundle(config.agent_ca_file, 'agent_ca_file') : undefined));
    this.cache = new BlobCache(config.agent_data_dir, config.agent_cache_max, log, (digest) => this.stopSeeding(digest));
    this.peerServer = createServer((socket) => this.onPeer(socket));
  }

  get port(): number {
    return this.peerPort;
  }

  /** Opens the cache, starts listening for peers and seeds what the cache holds. */
  async open(): Promise<void> {
    await this.cache.open();
    await new Promise<void>((resolve, reject) => {
      this.peerServer.once('error', reject);
      this.peerServer.listen(this.config.agent_peer_port, '0.0.0.0', () => resolve());
    });
    this.peerPort = (this.peerServer.address() as { port: number }).port;
    for (const { digest } of this.cache.list()) {
      await this.seedCached(digest).catch((err: unknown) => this.log.warn({ err, digest }, 'p2p: cannot seed a cached blob'));
    }
    this.updateGauges();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const d of this.downloads.values()) d.fail(new Error('agent shutting down'));
    await Promise.allSettled([...this.swarms.values()].map((s) => s.close()));
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.peerServer.close(() => resolve()));
  }

  status(): Record<string, unknown> {
    return {
      peerPort: this.peerPort,
      cache: { bytes: this.cache.bytes, max: this.cache.maxBytes, blobs: this.cache.list() },
      downloads: [...this.downloads.values()].map((d) => ({ digest: d.digest, size: d.size })),
      swarms: [...this.swarms.values()].map((s) => ({ infoHash: s.torrent.infoHash, name: s.torrent.name, peers: s.peerCount, connections: s.connections, complete: s.complete, have: s.have.count, pieces: s.torrent.pieceCount })),
    };
  }

  /**
   * The blob through the swarm: the running download, or a new one. `authorization` is the client's (or the
   * seed role's), used for the .torrent; the caller has already checked with the origin that it may pull.
   */
  async download(repository: string, digest: Digest, size: number, authorization: string | undefined): Promise<BlobDownload> {
    const running = this.downloads.get(digest);
    if (running && !running.failed) return running;
    let pending = this.starting.get(digest);
    if (!pending) {
      pending = this.startDownload(repository, digest, size, authorization).finally(() => this.starting.delete(digest));
      this.starting.set(digest, pending);
    }
    return pending;
  }

  private async startDownload(repository: string, digest: Digest, size: number, authorization: string | undefined): Promise<BlobDownload> {
    if (this.closed) throw new Error('agent is shutting down');
    // Finished since the caller looked: the cache has it (and its swarm seeds it).
    if (this.cache.has(digest)) throw new AlreadyCached(digest);
    const fetchTorrent = async () => {
      const t = parseTorrent(await this.origin.torrent(repository, digest, authorization));
      if (t.name !== digestHex(digest) || t.length !== size) throw new TorrentError(`torrent does not describe ${digest} (${size} bytes)`);
      return t;
    };
    const torrent = await fetchTorrent();
    await this.cache.saveTorrent(digest, torrent.raw);
    const release = await this.cache.reserve(size);
    let file: PieceFile;
    try {
      file = await PieceFile.open(this.cache.partialPath(digest), torrent);
    } catch (e) {
      release();
      throw e;
    }
    // A swarm left over from a failed attempt goes; the new one starts from the pieces on disk.
    await this.swarmOf.get(digest)?.close();
    const swarm = this.newSwarm(digest, torrent, file, fetchTorrent);
    const stallMs = this.config.agent_stall_ms;
    const download = new BlobDownload({
      digest,
      swarm,
      file,
      cache: this.cache,
      metrics: this.metrics,
      log: this.log,
      deadlineMs: Math.max(60_000, 12 * stallMs),
      releaseReservation: release,
    });
    this.downloads.set(digest, download);
    this.metrics.cacheMisses.inc();
    download.done.then(
      () => {
        release();
        this.downloads.delete(digest);
        this.updateGauges();
      },
      async (err: unknown) => {
        release();
        if (this.downloads.get(digest) === download) this.downloads.delete(digest);
        this.memory.forget(torrent.infoHash);
        await swarm.close();
        this.forgetSwarm(digest, swarm);
        // A digest mismatch means the pieces are wrong as a whole: nothing on disk is worth keeping.
        if ((err as Error).message.includes('does not match')) await file.discard();
        else await file.close();
      },
    );
    swarm.start();
    return download;
  }

  private newSwarm(digest: Digest, torrent: Torrent, file: PieceFile, renew?: () => Promise<Torrent>): Swarm {
    const previous = this.swarms.get(torrent.infoHash);
    if (previous) void previous.close();
    const swarm = new Swarm({
      torrent,
      file,
      memory: this.memory,
      peerId: this.peerId,
      port: this.peerPort,
      ip: this.config.agent_peer_ip,
      idc: this.config.idc,
      maxPeers: this.config.agent_max_peers,
      window: this.config.agent_window,
      stallMs: this.config.agent_stall_ms,
      metrics: this.metrics,
      log: this.log,
      renew,
      fetch: this.origin.transport.fetch,
    });
    swarm.on('error', () => undefined);
    this.swarms.set(torrent.infoHash, swarm);
    this.swarmOf.set(digest, swarm);
    return swarm;
  }

  private forgetSwarm(digest: Digest, swarm: Swarm): void {
    if (this.swarms.get(swarm.torrent.infoHash) === swarm) this.swarms.delete(swarm.torrent.infoHash);
    if (this.swarmOf.get(digest) === swarm) this.swarmOf.delete(digest);
  }

  /** Seeds a cached blob whose .torrent is on disk (after a restart). */
  private async seedCached(digest: Digest): Promise<void> {
    const raw = await this.cache.loadTorrent(digest);
    if (!raw) return;
    const torrent = parseTorrent(raw);
    const file = await PieceFile.complete(this.cache.blobPath(digest), torrent);
    this.newSwarm(digest, torrent, file).start();
  }

  private stopSeeding(digest: Digest): void {
    const swarm = this.swarmOf.get(digest);
    if (!swarm) return;
    this.forgetSwarm(digest, swarm);
    this.memory.forget(swarm.torrent.infoHash);
    void swarm.close();
    this.updateGauges();
  }

  updateGauges(): void {
    this.metrics.cacheBytes.set(this.cache.bytes);
  }

  private onPeer(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const wire = new PeerWire('tcpIncoming');
    connectWire(socket, wire, () => this.sockets.delete(socket));
    socket.setTimeout(20_000, () => socket.destroy());
    wire.once('handshake', (infoHash: string) => {
      const swarm = this.swarms.get(infoHash);
      if (!swarm) {
        socket.destroy();
        return;
      }
      socket.setTimeout(0);
      swarm.addIncoming(wire, socket);
    });
  }
}
