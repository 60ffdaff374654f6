import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { digestOf } from '../../core/digest.js';
import { DigestMismatchError } from '../../storage-adapters/blob/blob-store.js';
import { FsBlobStore } from '../../storage-adapters/blob/fs.js';
import { ByteRing } from '../../storage-adapters/blob/fs/byte-ring.js';
import { HashWorker } from '../../storage-adapters/blob/fs/hash-worker.js';

const id = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

t.test('states fed through rings that wrap around, interleaved, digest what was absorbed', async (t) => {
  const worker = new HashWorker();
  t.teardown(() => worker.close());
  const ring = new ByteRing(2, 1000);
  const other = new ByteRing(2, 1000);
  const a = worker.newHash();
  const b = worker.newHash();
  const bytesA = randomBytes(5500);
  const bytesB = randomBytes(3000);
  for (let seq = 0; seq * 1000 < bytesA.length; seq++) {
    // A slot is refilled only once the worker has hashed its previous use, as StagedFile does.
    await ring.waitHashed(seq - ring.slots + 1);
    const part = bytesA.subarray(seq * 1000, (seq + 1) * 1000);
    part.copy(ring.data, ring.offset(seq));
    a.absorb(ring, seq, part.length);
    if (seq * 1000 < bytesB.length) {
      await other.waitHashed(seq - other.slots + 1);
      bytesB.subarray(seq * 1000, (seq + 1) * 1000).copy(other.data, other.offset(seq));
      b.absorb(other, seq, 1000);
    }
  }
  t.equal(a.bytes, bytesA.length);
  t.equal(await a.digest(), digestOf(bytesA));
  t.equal(await b.digest(), digestOf(bytesB));
  t.equal(ring.hashed, 6, 'the worker marked every slot hashed');
});

t.test('once the worker has stopped, its states vouch for nothing', async (t) => {
  const worker = new HashWorker();
  const ring = new ByteRing(2, 16);
  const h = worker.newHash();
  Buffer.from('some bytes').copy(ring.data, 0);
  h.absorb(ring, 0, 10);
  await worker.close();
  await worker.gone;
  t.ok(Number.isNaN(h.bytes), 'bytes is NaN, so no upload size matches it');
  await t.rejects(h.digest());
  await ring.waitHashed(5, h.gone); // returns: nobody is left to hash
});

t.test('an upload whose hash worker stopped still commits only bytes that hash to the digest, by reading them', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-hash-worker-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const first = randomBytes(9 * 1024 * 1024 + 17); // more than the ring holds: its slots are reused
  const second = randomBytes(1024 * 1024);
  const whole = Buffer.concat([first, second]);
  const a = new FsBlobStore({ root, hashWorker: true });
  await a.createUpload(id);
  await a.appendUpload(id, 0, Readable.from([first]));
  await a.close(); // stops the worker that holds this upload's hash state
  await a.appendUpload(id, first.length, Readable.from([second]));
  await t.rejects(a.commitUpload(id, digestOf(Buffer.concat([second, first]))), DigestMismatchError);

  const b = new FsBlobStore({ root, hashWorker: true });
  await b.createUpload(id);
  await b.appendUpload(id, 0, Readable.from([first]));
  await b.appendUpload(id, first.length, Readable.from([second]));
  await b.close();
  const info = await b.commitUpload(id, digestOf(whole));
  t.equal(info.size, whole.length);
  t.equal(info.digest, digestOf(whole));
});
