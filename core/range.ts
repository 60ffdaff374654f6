import { RegistryError } from './errors.js';

/** An inclusive byte range, as HTTP writes them. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a GET `Range` header against a blob of `size` bytes (RFC 9110 §14.1.2: one range; suffix and open ranges).
 * Returns undefined when there is no header or it is not a bytes range (the whole body is then sent);
 * throws 416 (code UNSUPPORTED: the spec lists no range code) when it cannot be satisfied.
 */
export function parseRangeHeader(header: string | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) {
    if (/^\s*bytes\s*=/i.test(header)) {
      throw new RegistryError('UNSUPPORTED', 'unsupported or malformed range', {
        status: 416,
        detail: { reason: 'range not satisfiable', range: header.slice(0, 100) },
        headers: { 'Content-Range': `bytes */${size}` },
      });
    }
    return undefined;
  }
  const [, a, b] = m as unknown as [string, string, string];
  let start: number;
  let end: number;
  if (a === '' && b === '') throw unsatisfiable(header, size);
  if (a === '') {
    // suffix range: the last N bytes
    const n = Number(b);
    if (n === 0) throw unsatisfiable(header, size);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) throw unsatisfiable(header, size);
  }
  if (start >= size || !Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw unsatisfiable(header, size);
  return { start, end };
}

function unsatisfiable(header: string, size: number): RegistryError {
  return new RegistryError('UNSUPPORTED', 'requested range not satisfiable', {
    status: 416,
    detail: { reason: 'range not satisfiable', range: header.slice(0, 100), size },
    headers: { 'Content-Range': `bytes */${size}` },
  });
}

/**
 * Parses a chunk's `Content-Range` on PATCH. The spec writes it "<start>-<end>"; clients also send
 * "bytes <start>-<end>/<total|*>". A malformed value is a 400, an out-of-order one is decided by the caller (416).
 */
export function parseContentRange(header: string): ByteRange {
  const m = /^\s*(?:bytes[\s=])?\s*(\d+)\s*-\s*(\d+)\s*(?:\/\s*(?:\d+|\*))?\s*$/i.exec(header);
  if (!m) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'malformed Content-Range', { detail: { contentRange: header.slice(0, 100) } });
  }
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'invalid Content-Range', { status: 416, detail: { contentRange: header.slice(0, 100) } });
  }
  return { start, end };
}
