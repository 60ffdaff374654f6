import { RegistryError } from '../../core/errors.js';
import type { HeldLock } from '../../storage-adapters/meta/meta-store.js';

/** The lease's life without a heartbeat: after a crash (kill -9 mid-PATCH) the upload is free again within this,
 *  so the client's resumed request — which waits up to waitMs — goes through. */
const leaseMs = 15_000;
/** While a request runs its lease is extended this often (a multi-GiB PATCH over a slow link keeps it). */
const heartbeatMs = 5_000;
/** How long a request waits for another process's request on the same upload before giving up. */
const waitMs = 30_000;
const pollMs = 25;

/** Where the cross-process lease comes from: the MetaStore every process of this registry shares. */
export interface LeaseSource {
  acquireLock(name: string, ttlMs: number): Promise<HeldLock | undefined>;
}

/**
 * Serializes the requests of one upload session (PATCH, PUT, DELETE never interleave): the one lock on an
 * upload. It spans a request's whole read-offset, append, commit and session-delete sequence, which no BlobStore
 * could see from inside; the stores themselves rely on it (blob-store.ts, appendUpload). Inside this process
 * requests queue on a promise chain; across processes (BERTH_WORKERS, instances sharing Redis) a lease in the
 * MetaStore keeps two workers from appending to one staged file at once, which could otherwise make a blob
 * visible whose bytes are not those its running digest saw.
 */
export class UploadLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(private readonly leases?: LeaseSource) {}

  async run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(id) ?? Promise.resolve();
    const guarded = () => this.underLease(id, fn);
    const result = prev.then(guarded, guarded);
    const tail = result.catch(() => undefined);
    this.tails.set(id, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    }
  }

  private async underLease<T>(id: string, fn: () => Promise<T>): Promise<T> {
    if (!this.leases) return fn();
    const lease = await this.acquire(id);
    const heartbeat = setInterval(() => void lease.extend(leaseMs).catch(() => false), heartbeatMs);
    heartbeat.unref();
    try {
      return await fn();
    } finally {
      clearInterval(heartbeat);
      await lease.release().catch(() => undefined); // it expires on its own
    }
  }

  private async acquire(id: string): Promise<HeldLock> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const lease = await this.leases!.acquireLock(`upload:${id}`, leaseMs);
      if (lease) return lease;
      if (Date.now() > deadline) {
        throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request on this upload is still running', { status: 409, detail: { upload: id } });
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}
