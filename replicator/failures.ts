import { OciClientError, TlsCertificateError } from '../core/oci-client.js';

// How a failed attempt is read: retried with backoff, failed at once, or a sign that the registry is down (its
// tasks are then held until it answers again).

/** A task that cannot succeed as things are configured: retrying changes nothing. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** Errors a retry cannot fix: the destination refused the content itself. */
export function isPermanent(err: unknown): boolean {
  if (err instanceof PermanentError) return true;
  // An untrusted certificate stays untrusted until someone changes it or the endpoint's `insecure`.
  if (err instanceof TlsCertificateError) return true;
  if (err instanceof OciClientError) {
    return ['MANIFEST_INVALID', 'NAME_INVALID', 'DIGEST_INVALID', 'SIZE_INVALID', 'UNSUPPORTED'].includes(err.code) && err.status < 500;
  }
  return false;
}

/** The registry did not answer at all (down, partitioned) rather than refusing something. */
export function isConnectivity(err: unknown): boolean {
  if (err instanceof OciClientError) return err.status === 502 || err.status === 503 || err.status === 504;
  const e = err as { name?: string; message?: string; cause?: { code?: string } } | undefined;
  if (e?.name === 'TimeoutError') return true;
  if (e?.message === 'fetch failed') return true;
  const code = e?.cause?.code ?? (err as { code?: string } | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

/** The error as a task's `error` text: its message and the network cause, bounded. */
export function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(err)}${cause ? ` (${cause})` : ''}`.slice(0, 1000);
}
