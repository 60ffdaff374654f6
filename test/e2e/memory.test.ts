import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { startBerth } from '../helpers/berth-process.js';

// Blob bytes stream from the socket to disk and back: pushing and pulling 2 GiB must not grow the server's memory.
// The pin is the growth of peak RSS over the idle server (buffering any part of the blob would add gigabytes);
// the absolute figure depends on machine load (concurrent GC falls behind) and is reported by `npm run bench`.

const GiB = 1024 * 1024 * 1024;
const size = 2 * GiB;

async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** `size` bytes from a repeated random 1 MiB block, hashed as they are produced. */
function generated(hash: ReturnType<typeof createHash>): Readable {
  const block = randomBytes(1024 * 1024);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      hash.update(block);
      sent += block.length;
      this.push(block);
    },
  });
}

t.test('a 2 GiB blob pushed as one stream and pulled back grows the server by less than 100 MiB', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.stop());
  const before = await peakRssMiB(berth.child.pid!);

  const start = await fetch(`${berth.url}/v2/mem/test/blobs/uploads/`, { method: 'POST' });
  t.equal(start.status, 202);
  const hash = createHash('sha256');
  // Streamed PATCH: no Content-Length, chunked transfer encoding.
  const patch = await fetch(`${berth.url}${start.headers.get('location')}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: Readable.toWeb(generated(hash)) as unknown as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  t.equal(patch.status, 202);
  t.equal(patch.headers.get('range'), `0-${size - 1}`);
  const digest = `sha256:${hash.digest('hex')}`;
  const put = await fetch(`${berth.url}${patch.headers.get('location')}?digest=${digest}`, { method: 'PUT' });
  t.equal(put.status, 201);
  const afterPush = await peakRssMiB(berth.child.pid!);

  const get = await fetch(`${berth.url}/v2/mem/test/blobs/${digest}`);
  t.equal(get.status, 200);
  const check = createHash('sha256');
  let received = 0;
  for await (const chunk of Readable.fromWeb(get.body as never)) {
    check.update(chunk as Buffer);
    received += (chunk as Buffer).length;
  }
  t.equal(received, size);
  t.equal(`sha256:${check.digest('hex')}`, digest, 'pulled bytes hash to the digest');
  const afterPull = await peakRssMiB(berth.child.pid!);
  t.comment(`peak RSS: ${before.toFixed(0)} MiB at start, ${afterPush.toFixed(0)} after push, ${afterPull.toFixed(0)} after pull`);
  t.ok(afterPush - before < 100, `pushing 2 GiB grew peak RSS by ${(afterPush - before).toFixed(0)} MiB`);
  t.ok(afterPull - before < 100, `pushing and pulling 2 GiB grew peak RSS by ${(afterPull - before).toFixed(0)} MiB`);
});
