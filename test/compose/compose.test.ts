import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers/berth-process.js';

// docker-compose.yml brought up for real by scripts/compose-smoke.sh (a dockerd and network namespace of its own,
// base images built locally, both IDCs, docker push/pull across them and through an agent, an instance killed,
// everything torn down). It takes about ten minutes on two cores, so it runs only when asked:
//   BERTH_COMPOSE_SMOKE=1 npx tap test/compose/compose.test.ts

const reason =
  process.env.BERTH_COMPOSE_SMOKE !== '1' ? 'set BERTH_COMPOSE_SMOKE=1 to run it (about 10 minutes)' : process.getuid?.() !== 0 ? 'needs root (network namespace, dockerd)' : false;

t.test('docker-compose up: two IDCs replicate both ways, serve through an agent and survive a killed instance', { skip: reason, timeout: 45 * 60_000 }, async (t) => {
  let out = '';
  const code = await new Promise<number>((resolve) => {
    const p = spawn('bash', [join(repoRoot, 'scripts', 'compose-smoke.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.on('exit', (c) => resolve(c ?? 1));
  });
  t.equal(code, 0, out.slice(-4000));
  t.notMatch(out, /compose-smoke: SKIP/, 'it ran, not skipped for a missing tool');
  t.match(out, /pushed to a, pulled from b and from b's agent/);
  t.match(out, /3 pulls served by berth-a2 alone/);
  t.match(out, /compose-smoke: \[\d+s\] PASS/);
});
