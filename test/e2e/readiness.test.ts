// /readyz answers 503 with the reason while the blob store cannot take a write (a full disk), and 200 again once
// space is back; /healthz (liveness: the stores answer) stays 200 meanwhile.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startBerth } from '../helpers/berth-process.js';

const root = process.getuid?.() === 0;

t.test('a full disk: /readyz 503 naming ENOSPC, /healthz 200; freed: /readyz 200', { skip: !root && 'mounting a tmpfs needs root' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-ready-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
  t.teardown(async () => {
    execFileSync('umount', ['-l', dir]);
    await rm(dir, { recursive: true, force: true });
  });
  const berth = await startBerth({ dataDir: dir });
  t.teardown(() => berth.stop());
  const ready = async () => {
    const r = await fetch(`${berth.url}/readyz`);
    return { status: r.status, body: (await r.json()) as Record<string, string> };
  };
  t.same(await ready(), { status: 200, body: { status: 'ready', blobs: 'ok', meta: 'ok' } });

  const filler = join(dir, 'filler');
  // Fill the file system to the last block (writeFile stops with ENOSPC; what fit stays).
  await writeFile(filler, Buffer.alloc(8 * 1024 * 1024)).catch((e: NodeJS.ErrnoException) => t.equal(e.code, 'ENOSPC'));
  const full = await ready();
  t.equal(full.status, 503);
  t.equal(full.body.status, 'unavailable');
  t.match(full.body.blobs, /ENOSPC/, 'the blob store names the cause');
  t.equal((await fetch(`${berth.url}/healthz`)).status, 200, '/healthz: alive (a restart would not help)');

  await rm(filler);
  t.equal((await ready()).status, 200, 'ready again once space is back');

});
