import type { Context, Next } from 'koa';
import { RegistryError } from '../../core/errors.js';
import {
  BlobNotFoundError,
  DigestMismatchError,
  InvalidOffsetError,
  RangeNotSatisfiableError,
  SizeMismatchError,
  StorageUnavailableError,
  UploadNotFoundError,
} from '../../storage-adapters/blob/blob-store.js';

/** Maps every failure to an OCI error body, in one place. Unknown errors are 500s and are logged. */
export async function ociErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (e) {
    const err = toRegistryError(e);
    if (!err) {
      ctx.state.log?.error({ err: e }, 'unhandled error');
      ctx.status = 500;
      ctx.type = 'application/json';
      ctx.body = { errors: [{ code: 'UNKNOWN', message: 'internal server error' }] };
      return;
    }
    if (err.status >= 500) ctx.state.log?.warn({ err: e }, err.message);
    ctx.status = err.status;
    // containerd (ctr) prints only the status line of a refusal: the reason goes into its reason phrase too
    // ("403 project nosuch does not exist"), which HTTP/1.1 leaves free. HTTP/2 has no reason phrase.
    if (err.code === 'DENIED' && ctx.req.httpVersionMajor < 2) ctx.message = reasonPhrase(err.message);
    for (const [k, v] of Object.entries(err.headers)) ctx.set(k, v);
    ctx.type = 'application/json';
    // A HEAD carries the length its GET body would have (RFC 9110 §8.6); node sends no body for it.
    ctx.body = err.toJSON();
    // A body we did not read (a refused chunk, an oversized manifest) is discarded by node after the response,
    // which keeps the connection usable and lets the client finish sending and read the error.
  }
}

/** RFC 9110 reason-phrase: visible ASCII and spaces only, kept short. */
function reasonPhrase(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '?').slice(0, 120) || 'Forbidden';
}

export function toRegistryError(e: unknown): RegistryError | undefined {
  if (e instanceof RegistryError) return e;
  if (e instanceof BlobNotFoundError) return new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest: e.digest } });
  if (e instanceof UploadNotFoundError) return new RegistryError('BLOB_UPLOAD_UNKNOWN');
  if (e instanceof DigestMismatchError) return new RegistryError('DIGEST_INVALID', undefined, { detail: { expected: e.expected, actual: e.actual } });
  if (e instanceof SizeMismatchError) return new RegistryError('SIZE_INVALID', e.message, { detail: { expected: e.expected, actual: e.actual } });
  if (e instanceof InvalidOffsetError) {
    return new RegistryError('BLOB_UPLOAD_INVALID', 'chunk does not start at the end of the upload', { status: 416, detail: { offset: e.offset, size: e.size } });
  }
  if (e instanceof RangeNotSatisfiableError) {
    return new RegistryError('UNSUPPORTED', 'requested range not satisfiable', {
      status: 416,
      detail: { reason: 'range not satisfiable', start: e.range.start, end: e.range.end, size: e.size },
      headers: { 'Content-Range': `bytes */${e.size}` },
    });
  }
  const storage = storageFailure(e);
  if (storage) return storage;
  if (e instanceof StorageUnavailableError) return new RegistryError('UNAVAILABLE', 'storage backend unavailable', { detail: { reason: e.message } });
  const code = (e as { code?: string } | undefined)?.code;
  // The client went away or sent a body that ended early: a 400 (nobody may be listening any more).
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (e as Error | undefined)?.message === 'aborted') {
    return new RegistryError('SIZE_INVALID', 'request body ended before Content-Length bytes', { status: 400 });
  }
  return undefined;
}

// A full disk or a read-only store fails every write: say so (507 / 503 with the cause), not 500 UNKNOWN.
const FULL = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);
const READ_ONLY = new Set(['EROFS', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'EACCES', 'EPERM']);

function storageFailure(e: unknown): RegistryError | undefined {
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    const base = code.replace(/^(SQLITE_[A-Z]+)_.*$/, '$1');
    if (FULL.has(base)) return new RegistryError('INSUFFICIENT_STORAGE', undefined, { detail: { reason: code } });
    if (READ_ONLY.has(base)) return new RegistryError('UNAVAILABLE', 'storage is not writable', { detail: { reason: code } });
  }
  return undefined;
}
