import { Worker } from 'node:worker_threads';
import type { Digest } from '../../../core/digest.js';
import type { ByteRing } from './byte-ring.js';
import type { RunningHash } from './running-hash.js';

// sha256 of uploads on a worker thread, so the event loop only reads sockets, copies into the ring and writes.
// The worker reads the bytes out of the appender's ByteRing (shared memory, no clone); messages carry only
// numbers, and the worker stores each ring's hashed-slot count with Atomics. A message port is FIFO, so a digest
// request comes after every slot absorbed before it. Should the worker die, every state it held becomes unusable
// (NaN bytes, digest rejects) and commits fall back to reading the staged file.

type ToWorker =
  | { t: 'ring'; r: number; data: SharedArrayBuffer; ctrl: SharedArrayBuffer; slots: number; slotSize: number }
  | { t: 'new'; s: number }
  | { t: 'hash'; s: number; r: number; seq: number; len: number }
  | { t: 'digest'; s: number; q: number }
  | { t: 'drop'; s: number };
type FromWorker = { q: number; hex?: string; error?: string };

/** The worker's whole program; runs from its source text (eval), so it may use nothing from this module. */
function workerMain(req: NodeJS.Require): void {
  const { parentPort } = req('node:worker_threads') as typeof import('node:worker_threads');
  const { createHash } = req('node:crypto') as typeof import('node:crypto');
  const rings = new Map<number, { data: Buffer; ctrl: Int32Array; slots: number; slotSize: number }>();
  const states = new Map<number, import('node:crypto').Hash>();
  parentPort!.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'ring':
        rings.set(m.r, { data: Buffer.from(m.data), ctrl: new Int32Array(m.ctrl), slots: m.slots, slotSize: m.slotSize });
        break;
      case 'new':
        states.set(m.s, createHash('sha256'));
        break;
      case 'hash': {
        const ring = rings.get(m.r)!;
        const off = (m.seq % ring.slots) * ring.slotSize;
        states.get(m.s)?.update(ring.data.subarray(off, off + m.len));
        Atomics.store(ring.ctrl, 0, m.seq + 1);
        Atomics.notify(ring.ctrl, 0);
        break;
      }
      case 'digest': {
        const h = states.get(m.s);
        states.delete(m.s);
        parentPort!.postMessage(h ? { q: m.q, hex: h.digest('hex') } : { q: m.q, error: 'unknown hash state' });
        break;
      }
      case 'drop':
        states.delete(m.s);
        break;
    }
  });
}

export class HashWorker {
  private readonly worker: Worker;
  private readonly rings = new WeakMap<ByteRing, number>();
  private readonly replies = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  dead = false;
  /** Settles when the worker has stopped, for whatever reason. */
  readonly gone: Promise<void>;

  constructor() {
    this.worker = new Worker(`(${workerMain.toString()})(require)`, { eval: true, name: 'berth-hash' });
    this.worker.on('message', (m: FromWorker) => {
      const r = this.replies.get(m.q);
      if (!r) return;
      this.replies.delete(m.q);
      if (m.hex !== undefined) r.resolve(m.hex);
      else r.reject(new Error(m.error));
    });
    this.gone = new Promise((resolve) => {
      const stop = (why: string) => {
        if (this.dead) return;
        this.dead = true;
        for (const r of this.replies.values()) r.reject(new Error(`hash worker stopped: ${why}`));
        this.replies.clear();
        resolve();
      };
      this.worker.on('error', (e) => stop(e.message));
      this.worker.on('exit', (code) => stop(`exit ${code}`));
    });
  }

  newHash(): RunningHash {
    return new RemoteHash(this, this.send({ t: 'new', s: this.nextId++ }));
  }

  /** Posts `m`; answers its state id (for 'new'). */
  send(m: ToWorker): number {
    if (!this.dead) this.worker.postMessage(m);
    return 's' in m ? m.s : 0;
  }

  ringId(ring: ByteRing): number {
    let id = this.rings.get(ring);
    if (id === undefined) {
      id = this.nextId++;
      this.rings.set(ring, id);
      this.send({ t: 'ring', r: id, data: ring.data.buffer as SharedArrayBuffer, ctrl: ring.ctrl.buffer as SharedArrayBuffer, slots: ring.slots, slotSize: ring.slotSize });
    }
    return id;
  }

  digest(s: number): Promise<string> {
    if (this.dead) return Promise.reject(new Error('hash worker stopped'));
    const q = this.nextId++;
    return new Promise((resolve, reject) => {
      this.replies.set(q, { resolve, reject });
      this.send({ t: 'digest', s, q });
    });
  }

  /** Stops the thread (it keeps a process alive until then). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

class RemoteHash implements RunningHash {
  private absorbed = 0;
  private ended = false;

  constructor(
    private readonly worker: HashWorker,
    private readonly id: number,
  ) {}

  get gone(): Promise<void> {
    return this.worker.gone;
  }

  get bytes(): number {
    return this.worker.dead || this.ended ? NaN : this.absorbed;
  }

  absorb(ring: ByteRing, seq: number, len: number): void {
    this.absorbed += len;
    this.worker.send({ t: 'hash', s: this.id, r: this.worker.ringId(ring), seq, len });
  }

  async digest(): Promise<Digest> {
    if (this.ended) throw new Error('hash state already ended');
    this.ended = true;
    return `sha256:${await this.worker.digest(this.id)}` as Digest;
  }

  dispose(): void {
    if (this.ended) return;
    this.ended = true;
    this.worker.send({ t: 'drop', s: this.id });
  }
}
