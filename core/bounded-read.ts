import type { Readable } from 'node:stream';

/** The whole of `source` when it is at most `max` bytes; undefined as soon as it goes past (the rest unread).
 *  Both HTTP surfaces read small bodies (manifests, JSON) this way and answer "too large" in their own shape. */
export async function readAtMost(source: Readable, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of source) {
    total += (c as Buffer).length;
    if (total > max) return undefined;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks, total);
}
