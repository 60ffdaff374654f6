import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { RecyclingFileStream, SERVE_UNIT, writeRecycled } from '../../core/recycling-file-stream.js';
import { sendfileAvailable } from '../../core/sendfile.js';

// Blob bodies through sendfile(2) (native/sendfile, core/sendfile.ts), against a real node:http server and real
// sockets: whole and ranged bodies, a client slower than the disk, one that leaves mid-body, keep-alive and
// pipelined requests on one connection.

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('sendfile serves file bodies', async (t) => {
  // `npm run build` (the test command's pretest) builds the addon; a machine without a C compiler would fall back.
  t.ok(sendfileAvailable(), 'the addon is built and loads (dist/native/berth_sendfile.node)');
  const dir = await mkdtemp(join(tmpdir(), 'berth-sendfile-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const blob = randomBytes(24 * 1024 * 1024 + 7);
  const file = join(dir, 'blob');
  await writeFile(file, blob);
  const served: number[] = [];
  const finished: Promise<void>[] = [];
  const server = http.createServer((req, res) => {
    finished.push(
      (async () => {
        const [start, end] = req.url === '/range' ? [1000, 1000 + 5 * 1024 * 1024 - 1] : [0, blob.length - 1];
        const stream = new RecyclingFileStream(await open(file, 'r'), start, end, SERVE_UNIT);
        res.writeHead(200, { 'content-length': end - start + 1, 'x-start': start });
        await writeRecycled(res, stream, (n) => served.push(n));
      })(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const get = (path: string, onChunk?: (res: http.IncomingMessage) => Promise<void>) =>
    new Promise<{ body: Buffer; socket: unknown }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ body: Buffer.concat(chunks), socket: res.socket }));
          res.on('error', reject);
          if (onChunk) void onChunk(res);
        })
        .on('error', reject);
    });
  const openFds = async () => (await readdir('/proc/self/fd')).length;
  const fdsBefore = await openFds();

  const whole = await get('/');
  t.equal(whole.body.length, blob.length);
  t.equal(sha(whole.body), sha(blob), 'the whole body arrives intact');
  const ranged = await get('/range');
  t.equal(sha(ranged.body), sha(blob.subarray(1000, 1000 + 5 * 1024 * 1024)), 'a range from an offset');
  t.equal(ranged.socket, whole.socket, 'the second response came on the same keep-alive connection');

  // A client that pauses: the socket's buffer fills and the job waits for it to drain.
  const slow = await get('/', async (res) => {
    for (let i = 0; i < 4; i++) {
      res.pause();
      await new Promise((r) => setTimeout(r, 150));
      res.resume();
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  t.equal(sha(slow.body), sha(blob), 'a slow reader gets every byte');
  await Promise.all(finished);
  t.same(served.slice(0, 3), [blob.length, 5 * 1024 * 1024, blob.length], 'bytes sent are counted once per body');

  // Two requests written at once on one connection: the second response waits for the first body.
  const raw = net.connect(port, '127.0.0.1');
  await once(raw, 'connect');
  raw.write('GET /range HTTP/1.1\r\nHost: x\r\n\r\nGET /range HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const parts: Buffer[] = [];
  raw.on('data', (c: Buffer) => parts.push(c));
  await once(raw, 'end');
  const all = Buffer.concat(parts);
  const part = 5 * 1024 * 1024;
  const firstHead = all.indexOf('\r\n\r\n') + 4;
  const secondStart = firstHead + part;
  t.match(all.subarray(secondStart, secondStart + 20).toString(), /^HTTP\/1\.1 200/, 'the second head follows the first body exactly');
  const secondHead = all.indexOf('\r\n\r\n', secondStart) + 4;
  t.equal(sha(all.subarray(firstHead, secondStart)), sha(blob.subarray(1000, 1000 + part)));
  t.equal(sha(all.subarray(secondHead)), sha(blob.subarray(1000, 1000 + part)), 'both pipelined bodies intact');

  // A client that leaves mid-body: the server's write ends, and the descriptors are given back.
  await new Promise<void>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.once('data', () => {
        res.pause();
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 100);
      });
    });
    req.on('error', () => undefined);
  });
  await Promise.all(finished);
  t.ok(served[served.length - 1]! < blob.length, 'a body cut short counts only what was sent');
  agent.destroy();
  await new Promise((r) => setTimeout(r, 200));
  t.ok((await openFds()) <= fdsBefore, 'no descriptor is left open (file, socket duplicate)');
});
