import { Digester, type Digest } from '../../../core/digest.js';
import type { ByteRing } from './byte-ring.js';

/**
 * The sha256 state of an upload's staged bytes, fed from the ring slot by slot once each slot is on disk. `bytes`
 * is what was absorbed so far, which is what is staged; NaN when the state can no longer vouch for anything.
 */
export interface RunningHash {
  readonly bytes: number;
  /** Hashes the first `len` bytes of the ring's slot `seq`, then marks `seq + 1` slots hashed on the ring. */
  absorb(ring: ByteRing, seq: number, len: number): void;
  /** The digest of everything absorbed; ends the state. */
  digest(): Promise<Digest>;
  /** Ends the state without a digest. */
  dispose(): void;
  /** Settles if whoever hashes stops for good (never for a hash on this thread). */
  readonly gone?: Promise<void>;
}

/** Hashing on the calling thread, right after each batch is written. */
export class LocalHash implements RunningHash {
  private readonly digester = new Digester('sha256');

  get bytes(): number {
    return this.digester.bytes;
  }

  update(buf: Uint8Array): void {
    this.digester.update(buf);
  }

  absorb(ring: ByteRing, seq: number, len: number): void {
    this.digester.update(ring.view(seq, len));
    ring.markHashed(seq + 1);
  }

  digest(): Promise<Digest> {
    return Promise.resolve(this.digester.digest());
  }

  dispose(): void {}
}
