// Reading a visible blob from S3, whole or an inclusive range, refused (like fs) when the range is not inside it.
import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Digest } from '../../../core/digest.js';
import type { ByteRange } from '../../../core/range.js';
import { BlobNotFoundError, RangeNotSatisfiableError, StorageUnavailableError } from '../blob-store.js';
import type { Bucket } from './bucket.js';
import { errorName, isNotFound, mapError } from './errors.js';

export async function readBlob(bucket: Bucket, digest: Digest, range?: ByteRange): Promise<Readable> {
  if (range && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.start > range.end)) {
    const info = await bucket.head(bucket.blobKey(digest), digest);
    if (!info) throw new BlobNotFoundError(digest);
    throw rangeInvalid(range, info.size);
  }
  let out;
  try {
    out = await bucket.s3.send(
      new GetObjectCommand({
        Bucket: bucket.name,
        Key: bucket.blobKey(digest),
        ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
      }),
    );
  } catch (e) {
    if (isNotFound(e)) throw new BlobNotFoundError(digest);
    if (range && errorName(e) === 'InvalidRange') {
      const info = await bucket.head(bucket.blobKey(digest), digest);
      if (!info) throw new BlobNotFoundError(digest);
      throw rangeInvalid(range, info.size);
    }
    throw mapError(e, `read ${digest}`);
  }
  const body = out.Body as Readable;
  if (!range) return body;
  // What came back: "bytes <start>-<end>/<total>", or the whole object when the server ignored Range
  // (HTTP allows that; s3rver does it for bytes=0-0).
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(out.ContentRange ?? '');
  const total = m ? Number(m[3]) : (out.ContentLength ?? 0);
  const got = m ? { start: Number(m[1]), end: Number(m[2]) } : { start: 0, end: total - 1 };
  // S3 answers a range reaching past the end with what there is; like fs, refuse it rather than read short.
  if (range.end >= total) {
    body.destroy();
    throw rangeInvalid(range, total);
  }
  if (got.start === range.start && got.end === range.end) return body;
  if (got.start > range.start || got.end < range.end) {
    body.destroy();
    throw new StorageUnavailableError(`S3 answered range ${range.start}-${range.end} of ${digest} with ${got.start}-${got.end}`);
  }
  return slice(body, range.start - got.start, range.end - range.start + 1);
}

/** `take` bytes of `body` after skipping `skip`; the source is destroyed once they are through. */
function slice(body: Readable, skip: number, take: number): Readable {
  return Readable.from(
    (async function* () {
      for await (const raw of body) {
        let c = raw as Buffer;
        if (skip >= c.length) {
          skip -= c.length;
          continue;
        }
        c = c.subarray(skip, skip + take);
        skip = 0;
        take -= c.length;
        yield c;
        if (take === 0) return;
      }
    })(),
    { objectMode: false },
  );
}

function rangeInvalid(range: ByteRange, size: number): RangeNotSatisfiableError {
  return new RangeNotSatisfiableError(range, size);
}
