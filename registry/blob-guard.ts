import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import { BlobFencedError, type MetaStore } from '../storage-adapters/meta/meta-store.js';

// Writers hold a pin on a digest while they store or link its bytes, so GC cannot fence and delete them in
// between; a writer that meets a fence waits for the collector to finish and then writes the bytes again.

/** How often a client's reliance on a link or manifest (a HEAD before skipping a push) is recorded at most:
 *  one write per item per interval, so GC's grace counts from the latest reliance within this much. */
export const TOUCH_EVERY_MS = 1000;

/** Long enough for any commit (an S3 multipart completion of a large blob); a crashed writer's pin lapses. */
const PIN_TTL_MS = 10 * 60 * 1000;
/** A collector deletes one blob's bytes in milliseconds; past this the pusher is told to retry. */
const FENCE_WAIT_MS = 30 * 1000;

/** Runs `write` while `digest` is pinned against GC, waiting out a fence first. */
export async function whilePinned<T>(meta: MetaStore, digest: Digest, write: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + FENCE_WAIT_MS;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    try {
      const pin = await meta.pinBlob(digest, PIN_TTL_MS);
      try {
        return await write();
      } finally {
        await pin.release().catch(() => undefined); // it lapses on its own
      }
    } catch (e) {
      if (!(e instanceof BlobFencedError)) throw e;
      if (Date.now() > deadline) {
        throw new RegistryError('UNAVAILABLE', 'garbage collection is deleting this blob; retry the push', { detail: { digest }, headers: { 'Retry-After': '1' } });
      }
      await sleep(delay);
    }
  }
}
