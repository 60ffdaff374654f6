// Soak: mixed pushes and pulls with token auth against a real `berth serve`, then idle; prints the RSS curve.
//   node dist/bench/soak.js [--minutes 30] [--idle-minutes 5] [--every 30] [--workers 4]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from './lib/processes.js';
import { mixedLoad, rssMiB, type SoakCounts } from './lib/soak-load.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    'idle-minutes': { type: 'string', default: '5' },
    every: { type: 'string', default: '30' },
    workers: { type: 'string', default: '4' },
  },
});
const loadMs = Number(values.minutes) * 60_000;
const idleMs = Number(values['idle-minutes']) * 60_000;
const everyMs = Number(values.every) * 1000;

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
const dataDir = await mkdtemp(join(tmpdir(), 'berth-soak-'));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const password = 'Soak-admin-1';
const env: NodeJS.ProcessEnv = { ...process.env, BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: password, BERTH_ADDR: `127.0.0.1:${port}`, BERTH_DATA_DIR: dataDir, BERTH_LOG_LEVEL: 'warn' };
delete env.NODE_OPTIONS;
const child = spawn(process.execPath, [bin, 'serve'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${url}/healthz`)).status === 200) break;
  } catch {
    /* starting */
  }
  if (i > 300) throw new Error('berth did not start');
  await new Promise((r) => setTimeout(r, 100));
}
const auth = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
const created = await fetch(`${url}/api/v2.0/projects`, {
  method: 'POST',
  headers: { Authorization: auth, 'Content-Type': 'application/json' },
  body: JSON.stringify({ project_name: 'soak', metadata: { public: 'false' } }),
});
if (created.status !== 201) throw new Error(`create project: ${created.status}`);

const start = Date.now();
const counts: SoakCounts = { pushes: 0, pulls: 0, failures: 0 };
console.log('minute\tphase\trss_mib\tpushes\tpulls\tfailures');
const sample = async (phase: string) =>
  console.log(`${((Date.now() - start) / 60_000).toFixed(1)}\t${phase}\t${(await rssMiB(child.pid!)).toFixed(0)}\t${counts.pushes}\t${counts.pulls}\t${counts.failures}`);
await sample('start');
let phase = 'load';
const timer = setInterval(() => void sample(phase), everyMs);
await mixedLoad({ url, username: 'admin', password, project: 'soak' }, start + loadMs, Number(values.workers), counts);
phase = 'idle';
await sample('load-end');
await new Promise((r) => setTimeout(r, idleMs));
clearInterval(timer);
await sample('idle-end');
if (counts.lastFailure) console.log(`last failure: ${counts.lastFailure}`);
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await rm(dataDir, { recursive: true, force: true });
