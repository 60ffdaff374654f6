/**
 * Serializes the requests of one upload session inside this process (PATCH, PUT, DELETE never interleave): the
 * one lock on an upload. It spans a request's whole read-offset, append, commit and session-delete sequence,
 * which no BlobStore could see from inside; the stores themselves rely on it (blob-store.ts, appendUpload).
 */
export class UploadLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(id) ?? Promise.resolve();
    const result = prev.then(fn, fn);
    const tail = result.catch(() => undefined);
    this.tails.set(id, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    }
  }
}
