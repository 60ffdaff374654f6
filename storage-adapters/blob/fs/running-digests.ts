import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { Digester, type Digest, type DigestAlgorithm } from '../../../core/digest.js';
import { UploadNotFoundError } from '../blob-store.js';
import { ioUnit, isNotFound } from './files.js';
import type { RunningHash } from './running-hash.js';

// Bound on cached hash states; an evicted upload is simply re-hashed from disk at commit.
const maxRunningDigests = 10_000;

/** The sha256 state of an upload's staged bytes, fed as they were written (hash.bytes == bytes on disk). */
export interface RunningDigest {
  hash: RunningHash;
  /** The upload's incarnation (content of `started`) the state belongs to. */
  incarnation: string;
}

/**
 * The hash states of uploads in progress, so a commit in the process that received the bytes need not read them
 * again. A state is only ever fed by one writer: appends and commits of one upload never overlap (the contract
 * leaves that to the caller; the OCI routes' UploadLocks serialise every request on an upload). Across processes
 * the incarnation tag and the size decide whether a state is trusted.
 */
export class RunningDigests {
  private readonly states = new LRUCache<string, RunningDigest>({
    max: maxRunningDigests,
    // A state taken out (delete) now belongs to whoever took it; one pushed out or replaced belongs to nobody.
    dispose: (state, _id, reason) => {
      if (reason === 'evict' || reason === 'set') state.hash.dispose();
    },
  });

  /** `newHash`: where sha256 runs (this thread, or a hash worker). */
  constructor(private readonly newHash: () => RunningHash) {}

  /** A fresh state for a new (empty) incarnation of upload `id`. */
  start(id: string, incarnation: string): void {
    this.states.set(id, { hash: this.newHash(), incarnation });
  }

  /** Puts back a state that matches the staged file again. */
  keep(id: string, running: RunningDigest): void {
    this.states.set(id, running);
  }

  forget(id: string): void {
    const state = this.states.get(id);
    this.states.delete(id);
    state?.hash.dispose();
  }

  /** Ends a state taken out that no longer matches the staged file. */
  discard(running: RunningDigest): void {
    running.hash.dispose();
  }

  /**
   * Takes the upload's cached hash state out of the cache when it covers exactly the `size` staged bytes;
   * the caller puts it back once the state again matches the file. An empty upload can always start afresh.
   */
  async take(id: string, dir: string, size: number): Promise<RunningDigest | undefined> {
    const cached = this.states.get(id);
    this.states.delete(id);
    // The incarnation is checked at commit, where trusting a stale state would matter.
    if (cached && cached.hash.bytes === size) return cached;
    cached?.hash.dispose();
    if (size !== 0) return undefined;
    const incarnation = await readIncarnation(dir);
    return incarnation === undefined ? undefined : { hash: this.newHash(), incarnation };
  }

  /** The digest of the staged bytes: from the running state when it provably covers them, else by reading them. */
  async digestOf(id: string, dir: string, size: number, algorithm: DigestAlgorithm): Promise<Digest> {
    const cached = this.states.get(id);
    if (cached && algorithm === 'sha256' && cached.hash.bytes === size && cached.incarnation === (await readIncarnation(dir))) {
      this.states.delete(id); // digest() ends the state
      const digest = await cached.hash.digest().catch(() => undefined); // a stopped hash worker: read the file
      if (digest !== undefined) return digest;
    }
    // After a restart, on another instance, after a refused chunk, or for sha512: one streaming pass over the file.
    const digester = new Digester(algorithm);
    try {
      for await (const chunk of createReadStream(join(dir, 'data'), { highWaterMark: ioUnit })) digester.update(chunk as Buffer);
    } catch (e) {
      if (isNotFound(e)) throw new UploadNotFoundError(id);
      throw e;
    }
    return digester.digest();
  }
}

async function readIncarnation(dir: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, 'started'), 'utf8');
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}
