import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { berthBin } from '../helpers/berth-process.js';
import { addPolicy, addRegistry, digestOfTag, fastReplication, pushImage, startExecution, startIdc, waitExecution, waitFor } from '../helpers/idc.js';

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

  // An admin creates a manual policy and runs it at once (the console's "Replicate now"): the separate
  // replicator must plan it with the new policy, not fail it as unknown because it last read the policies
  // before it was created. Three times, as one run could fall just after a periodic re-read.
  const dest = (await addRegistry(a.url, 'b-manual', b.url));
  for (const n of [1, 2, 3]) {
    const policy = await addPolicy(a.url, { name: `manual-${n}`, dest, trigger: 'manual', filters: [{ type: 'name', value: 'solo/**' }] });
    const done = await waitExecution(a.url, await startExecution(a.url, policy));
    t.equal(done.status, 'Succeed', `a policy run right after it was created succeeds (${n}: ${done.status_text || done.status})`);
  }

  t0 = Date.now();
  await active.stop();
  t.comment(`stopped in ${Date.now() - t0} ms`);
  t0 = Date.now();
  const standby = workers.find((w) => w !== active)!;
  const two = await pushImage(a.url, 'solo/app', 'v2');
  await waitFor(async () => (await digestOfTag(b.url, 'solo/app', 'v2')) === two.digest, 20_000, 100);
  t.ok(standby.output().includes('replicator active'), `the standby took over (${Date.now() - t0} ms)`);
});
