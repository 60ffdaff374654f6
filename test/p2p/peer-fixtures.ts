// Fixtures for the swarm's in-process unit tests: a small torrent over random bytes, its pieces on disk
// (PieceFile + PieceStore), and peers as real bittorrent-protocol wires: ours (a Peer) piped to theirs in
// memory, handshake done, so the peer id decides what kind of peer it is.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bencode from 'bencode';
import { agentPeerIdPrefix, originPeerIdPrefix } from '../../core/p2p-peer-id.js';
import { AgentMetrics } from '../../p2p-agent/metrics.js';
import { Peer } from '../../p2p-agent/peer.js';
import { PeerWire } from '../../p2p-agent/peer-wire.js';
import { PieceFile } from '../../p2p-agent/piece-file.js';
import { PieceMemory } from '../../p2p-agent/piece-memory.js';
import { PieceStore } from '../../p2p-agent/piece-store.js';
import { parseTorrent, type Torrent } from '../../p2p-agent/torrent.js';

export const pieceLength = 16 * 1024;

/** A torrent for `pieces` pieces of random bytes (the last one shorter), and the bytes. */
export function smallTorrent(pieces: number): { torrent: Torrent; data: Buffer; piece(i: number): Buffer } {
  const data = randomBytes(pieces * pieceLength - 1000);
  const hashes: Buffer[] = [];
  for (let i = 0; i < pieces; i++) hashes.push(createHash('sha1').update(data.subarray(i * pieceLength, (i + 1) * pieceLength)).digest());
  const torrent = parseTorrent(bencode.encode({ info: { length: data.length, name: 'blob', 'piece length': pieceLength, pieces: Buffer.concat(hashes) } }));
  return { torrent, data, piece: (i) => data.subarray(i * pieceLength, (i + 1) * pieceLength) };
}

/** A PieceStore over a fresh partial file; `have` pieces are stored (verified) first. */
export async function openStore(t: { teardown(fn: () => unknown): void }, torrent: Torrent, piece: (i: number) => Buffer, have: number[] = []) {
  const dir = await mkdtemp(join(tmpdir(), 'berth-pieces-'));
  const file = await PieceFile.open(join(dir, 'blob.part'), torrent);
  const metrics = new AgentMetrics();
  const memory = new PieceMemory(64 * 1024 * 1024);
  const store = new PieceStore(torrent, file, memory, metrics);
  t.teardown(async () => {
    await file.close();
    await rm(dir, { recursive: true, force: true });
  });
  for (const i of have) await store.store(i, piece(i));
  return { store, file, memory, metrics };
}

export type PeerKind = 'agent' | 'origin' | 'standard';

function peerId(kind: PeerKind): Buffer {
  const prefix = kind === 'agent' ? agentPeerIdPrefix : kind === 'origin' ? originPeerIdPrefix : '-qB4650-';
  return Buffer.concat([Buffer.from(prefix), randomBytes(12)]);
}

let port = 40000;

/**
 * Our side of a connection to a peer of `kind` holding `has`, and their wire. The Peer's socket is never
 * connected (the wires talk through in-memory pipes); it is there for what Peer does with it (cork, destroy).
 */
export async function connectedPeer(torrent: Torrent, kind: PeerKind, has: number[] = []): Promise<{ peer: Peer; theirs: PeerWire }> {
  const ours = new PeerWire('tcpOutgoing');
  const theirs = new PeerWire('tcpIncoming');
  ours.pipe(theirs);
  theirs.pipe(ours);
  const shaken = Promise.all([new Promise((r) => ours.once('handshake', r)), new Promise((r) => theirs.once('handshake', r))]);
  ours.handshake(torrent.infoHashBytes, peerId('agent'), { fast: true });
  theirs.handshake(torrent.infoHashBytes, peerId(kind), { fast: true });
  await shaken;
  const peer = new Peer(ours, new Socket(), `127.0.0.1:${port++}`, torrent.pieceCount);
  for (const i of has) peer.has.add(i);
  return { peer, theirs };
}

/** Resolves on the next `event` of `emitter` (with its arguments). */
export function next<T extends unknown[] = unknown[]>(emitter: { once(event: string, fn: (...args: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}

/** Polls `what` until it holds (true) or `ms` pass (false). */
export async function until(what: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
