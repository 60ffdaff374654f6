import { ioUnit } from './files.js';

// Atomics.waitAsync (V8, Node >= 16) is in TypeScript's es2024 lib, newer than this project's target.
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync.bind(Atomics);

/**
 * The staging buffer of one append at a time: `slots` × `slotSize` bytes in a SharedArrayBuffer, so a hash worker
 * reads the very bytes the file write takes, with no clone. The appender fills slots in order (slot `seq` sits at
 * `seq % slots`); whoever hashes stores how many slots are hashed (the tail) with Atomics, and a slot is refilled
 * only once it is written and hashed.
 */
export class ByteRing {
  readonly data: Buffer;
  /** [0]: slots hashed since reset(). */
  readonly ctrl: Int32Array;

  constructor(
    readonly slots = 4,
    readonly slotSize = ioUnit,
  ) {
    this.data = Buffer.from(new SharedArrayBuffer(slots * slotSize));
    this.ctrl = new Int32Array(new SharedArrayBuffer(4));
  }

  offset(seq: number): number {
    return (seq % this.slots) * this.slotSize;
  }

  view(seq: number, len: number): Buffer {
    const off = this.offset(seq);
    return this.data.subarray(off, off + len);
  }

  get hashed(): number {
    return Atomics.load(this.ctrl, 0);
  }

  markHashed(count: number): void {
    Atomics.store(this.ctrl, 0, count);
    Atomics.notify(this.ctrl, 0);
  }

  /** Resolves once `count` slots are hashed, or when `gone` settles (nobody will hash them any more). */
  async waitHashed(count: number, gone?: Promise<void>): Promise<void> {
    for (;;) {
      const now = Atomics.load(this.ctrl, 0);
      if (now >= count) return;
      const w = waitAsync(this.ctrl, 0, now);
      if (!w.async) continue; // changed meanwhile
      if (gone === undefined) await w.value;
      else if ((await Promise.race([w.value, gone.then(() => 'gone' as const)])) === 'gone') return;
    }
  }

  reset(): void {
    Atomics.store(this.ctrl, 0, 0);
  }
}

/** A few rings kept for reuse, so an append allocates no staging memory (and concurrent appends each get one). */
export class ByteRingPool {
  private readonly idle: ByteRing[] = [];

  constructor(private readonly maxIdle = 4) {}

  acquire(): ByteRing {
    const ring = this.idle.pop() ?? new ByteRing();
    ring.reset();
    return ring;
  }

  /** Only a ring whose slots are all written and hashed may come back. */
  release(ring: ByteRing): void {
    if (this.idle.length < this.maxIdle) this.idle.push(ring);
  }
}
