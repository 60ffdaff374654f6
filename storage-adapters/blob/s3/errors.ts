// How S3 SDK errors read: "no such object", or "the bucket is not usable now" (StorageUnavailableError).
import { StorageUnavailableError } from '../blob-store.js';

export function errorName(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? ((e as { name?: string }).name ?? undefined) : undefined;
}

export function isNotFound(e: unknown): boolean {
  const name = errorName(e);
  const status = (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchBucket' && name !== 'NoSuchUpload');
}

const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);
/** Errors that say "the bucket is not usable right now / as configured" rather than "this object". */
const unusableNames = new Set(['NoSuchBucket', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'TimeoutError', 'RequestTimeout']);

export function isUnavailable(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as { code?: string; name?: string; cause?: { code?: string }; $metadata?: { httpStatusCode?: number } };
  if (connectionCodes.has(err.code ?? '') || connectionCodes.has(err.cause?.code ?? '')) return true;
  if (unusableNames.has(err.name ?? '')) return true;
  const status = err.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

export function mapError(e: unknown, what: string): unknown {
  if (e instanceof StorageUnavailableError || !isUnavailable(e)) return e;
  const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new StorageUnavailableError(`S3 unavailable (${what}): ${detail}`, { cause: e });
}
