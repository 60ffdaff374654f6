// Types for bittorrent-protocol@5 (it ships none; @types/bittorrent-protocol describes v3). Only what Berth uses.
declare module 'bittorrent-protocol' {
  import type { EventEmitter } from 'node:events';

  export interface PeerBitfield {
    get(index: number): boolean;
    set(index: number, value?: boolean): void;
    buffer: Uint8Array;
  }

  export interface HandshakeExtensions {
    dht?: boolean;
    fast?: boolean;
    extended?: boolean;
  }

  /** One BitTorrent peer connection (a streamx Duplex: pipe a socket into it and it into the socket). */
  export default class Wire extends EventEmitter {
    constructor(type?: string, peEnabled?: number);
    peerId: string | null;
    peerIdBuffer: Uint8Array | null;
    type: string;
    amChoking: boolean;
    amInterested: boolean;
    peerChoking: boolean;
    peerInterested: boolean;
    peerPieces: PeerBitfield;
    peerExtensions: HandshakeExtensions;
    hasFast: boolean;
    requests: unknown[];
    peerRequests: unknown[];
    uploaded: number;
    downloaded: number;
    destroyed: boolean;
    pipe<T>(dest: T): T;
    write(chunk: Uint8Array): boolean;
    destroy(): void;
    end(): void;
    setTimeout(ms: number, unref?: boolean): void;
    setKeepAlive(enable: boolean): void;
    keepAlive(): void;
    handshake(infoHash: string | Uint8Array, peerId: string | Uint8Array, extensions?: HandshakeExtensions): void;
    choke(): void;
    unchoke(): void;
    interested(): void;
    uninterested(): void;
    have(index: number): void;
    bitfield(bitfield: Uint8Array): void;
    request(index: number, offset: number, length: number, cb: (err: Error | null, block?: Uint8Array) => void): void;
    piece(index: number, offset: number, block: Uint8Array): void;
    cancel(index: number, offset: number, length: number): void;
    reject(index: number, offset: number, length: number): void;
    haveAll(): void;
    haveNone(): void;
    // Internals of the receive path that PeerWire (peer-wire.ts) replaces; the version is pinned for them.
    /** Bytes the parser waits for before it is called with them. */
    protected _parserSize: number;
    protected _parser: (message: Uint8Array) => void;
    /** Set once the stream has finished (nothing more is parsed). */
    protected _finished: boolean;
    protected _write(data: Uint8Array, cb: (err?: Error | null) => void): void;
  }
}
