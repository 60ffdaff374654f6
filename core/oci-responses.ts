import type { OciErrorCode } from './errors.js';

// What the OCI client makes of a registry's answers: typed errors from OCI error bodies and from TLS failures,
// and the Link header of a paged list.

/** The registry's TLS certificate was not trusted (self-signed, unknown CA, expired, wrong host). Retrying
 *  cannot fix it: the certificate, the trusted CAs or the `insecure` option has to change. */
export class TlsCertificateError extends Error {
  constructor(
    readonly url: string,
    /** OpenSSL's / Node's code, e.g. DEPTH_ZERO_SELF_SIGNED_CERT. */
    readonly code: string,
    reason: string,
  ) {
    super(`certificate verify failed: ${reason} (${code}) at ${new URL(url).origin} (set insecure to skip verification)`);
    this.name = 'TlsCertificateError';
  }
}

export class OciClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: OciErrorCode | 'UNKNOWN',
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = 'OciClientError';
  }
}

// Node's (OpenSSL's) codes for a certificate that did not verify.
const certificateCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** fetch wraps transport errors as TypeError('fetch failed') with the socket's error as `cause`. */
export function certificateError(e: unknown, url: string): TlsCertificateError | undefined {
  const cause = (e as { cause?: { code?: unknown; message?: string } } | undefined)?.cause;
  if (typeof cause?.code !== 'string' || !certificateCodes.has(cause.code)) return undefined;
  return new TlsCertificateError(url, cause.code, cause.message ?? cause.code);
}

export async function expectStatus(r: Response, ok: number[]): Promise<void> {
  if (ok.includes(r.status)) return;
  let code: OciErrorCode | 'UNKNOWN' = 'UNKNOWN';
  let message = `${r.status} ${r.statusText}`;
  let detail: unknown;
  try {
    const body = (await r.json()) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    const e = body.errors?.[0];
    if (e?.code) code = e.code as OciErrorCode;
    if (e?.message) message = `${r.status} ${e.code}: ${e.message}`;
    detail = e?.detail;
  } catch {
    /* not an OCI error body */
  }
  throw new OciClientError(r.status, code, message, detail);
}

export async function drain<T>(r: Response, value: T): Promise<T> {
  await r.body?.cancel().catch(() => undefined);
  return value;
}


/** RFC 8288: the target of rel="next", if any. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return undefined;
}
