// Small file-system steps of the fs BlobStore; a missing file or directory is an answer here, not an error.
import { open, opendir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { Digest } from '../../../core/digest.js';
import type { BlobInfo } from '../blob-store.js';

// Large I/O units: a layer is read and written in ~1 MiB steps, not in the 16-64 KiB a socket delivers.
export const ioUnit = 1024 * 1024;

export function blobInfo(digest: Digest, s: Stats): BlobInfo {
  return { digest, size: s.size, createdAt: Math.floor(s.mtimeMs) };
}

export function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export async function statIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Names in a directory, streamed (a shard can hold many blobs); a missing directory has none. */
export async function* entries(dir: string): AsyncIterable<string> {
  let d;
  try {
    d = await opendir(dir);
  } catch (e) {
    if (isNotFound(e)) return;
    throw e;
  }
  for await (const entry of d) yield entry.name;
}

/** fsync a file or a directory (a directory's fsync makes a rename or a new entry in it durable). */
export async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
