import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { berthBin } from '../helpers/berth-process.js';
import { addPolicy, addRegistry, digestOfTag, fastReplication, pushImage, startIdc, waitFor } from '../helpers/idc.js';

interface Worker {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function startReplicate(env: Record<string, string>): Worker {
  let out = '';
  const child = spawn(process.execPath, [berthBin, 'replicate'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

t.test('berth replicate runs the engine for a berth serve that does not; a second one takes over when the first stops', async (t) => {
  const a = await startIdc('a', { env: { BERTH_REPLICATOR: 'off' } });
  const b = await startIdc('b');
  const env = { ...fastReplication, BERTH_AUTH: 'none', BERTH_IDC: 'a', BERTH_DATA_DIR: a.dataDir, BERTH_ADDR: `127.0.0.1:${a.port}`, BERTH_LOG_LEVEL: 'info' };
  const workers = [startReplicate(env), startReplicate(env)];
  t.teardown(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all([a.stop(), b.stop()]);
  });
  await addPolicy(a.url, { name: 'a-to-b', dest: await addRegistry(a.url, 'b', b.url) });

  let t0 = Date.now();
  const one = await pushImage(a.url, 'solo/app', 'v1');
  await waitFor(async () => (await digestOfTag(b.url, 'solo/app', 'v1')) === one.digest, 20_000, 100);
  t.pass(`the separate replicator delivered a push (${Date.now() - t0} ms)`);
  const active = await waitFor(async () => workers.find((w) => w.output().includes('replicator active')));
  t.equal(workers.filter((w) => w.output().includes('replicator active')).length, 1, 'exactly one is active');

  t0 = Date.now();
  await active.stop();
  t.comment(`stopped in ${Date.now() - t0} ms`);
  t0 = Date.now();
  const standby = workers.find((w) => w !== active)!;
  const two = await pushImage(a.url, 'solo/app', 'v2');
  await waitFor(async () => (await digestOfTag(b.url, 'solo/app', 'v2')) === two.digest, 20_000, 100);
  t.ok(standby.output().includes('replicator active'), `the standby took over (${Date.now() - t0} ms)`);
});
