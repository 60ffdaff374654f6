import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { repoRoot, watchSecret } from '../helpers/berth-process.js';
import { openBrowser, type Browser } from '../helpers/browser.js';
import { consoleWalk } from '../helpers/console-walk.js';

// docker-compose.yml brought up for real by scripts/compose-smoke.sh: a dockerd and a network namespace of its
// own, base images built locally (debootstrap), both IDCs, the setup service's dual-master replication, docker
// push/pull across the IDCs and through an agent, an instance killed, everything torn down. In between, as a new
// admin would after `docker-compose up`, the web console of IDC a in real Chromium (run inside that namespace,
// where the compose ports are): a project, a member, a robot whose copied secret docker then pushes with, IDC b
// as a registry and a replication policy run until it succeeds, seen on the topology picture.
//
// About 4 minutes on two cores. It needs root and dockerd, docker-compose, debootstrap; without them it is
// skipped, unless BERTH_COMPOSE_SMOKE=1 (CI sets it), which makes a missing tool a failure. BERTH_COMPOSE_SMOKE=0
// skips it.

t.setTimeout(40 * 60_000);
const PASSWORD = 'Smoke-Admin-Pass-1';
const mode = process.env.BERTH_COMPOSE_SMOKE;
const missing = ['dockerd', 'docker', 'docker-compose', 'debootstrap', 'nsenter'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const reason =
  mode === '0' ? 'BERTH_COMPOSE_SMOKE=0'
  : mode === '1' ? false
  : process.getuid?.() !== 0 ? 'needs root (network namespace, dockerd)'
  : missing.length ? `not installed: ${missing.join(', ')}`
  : false;

t.test('docker-compose up: the console sets up an IDC, the IDCs replicate both ways, an agent serves, an instance dies', { skip: reason }, async (t) => {
  watchSecret(PASSWORD);
  const smoke = spawn('bash', [join(repoRoot, 'scripts', 'compose-smoke.sh')], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, BERTH_SMOKE_CONSOLE: '1', BERTH_SMOKE_ADMIN_PASSWORD: PASSWORD },
  });
  let out = '';
  smoke.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number>((resolve) => smoke.on('exit', (c) => resolve(c ?? 1)));
  let browser: Browser | undefined;
  t.teardown(async () => {
    await browser?.close();
    if (smoke.exitCode === null) smoke.kill('SIGTERM');
  });

  /** One part of the walk; on failure a screenshot's path in the output, and the script is told to stop. */
  const part = async (name: string, f: (b: Browser) => Promise<string>, ns: string, a: string): Promise<string> => {
    try {
      browser ??= await openBrowser(a, { netns: ns });
      return `continue ${await f(browser)}`;
    } catch (e) {
      const shot = await browser?.screenshot(`compose-failed-${name}`).catch(() => 'none');
      t.fail(`console walk "${name}" failed (screenshot ${shot}): ${(e as Error).message}`);
      return 'stop';
    }
  };

  const parts: Record<string, (b: Browser, a: string) => Promise<string>> = {
    'console-setup': async ({ page }, a) => {
      const walk = consoleWalk(page);
      await page.goto(`${a}/`);
      await walk.logIn('admin', PASSWORD);
      await walk.createUser('alice', 'alice@example.com', 'Alice-Pass-1');
      await walk.createProject('team');
      await walk.openProject('team');
      await walk.addMember('alice', 'Developer');
      const robot = await walk.createRobot('team', 'ci', 'compose smoke');
      const secret = await walk.copyRobotSecret();
      watchSecret(secret);
      t.match(secret, /^\S{16,}$/, `the console made ${robot} and its secret was copied`);
      await page.getByRole('button', { name: 'Done' }).click();
      return `${robot} ${secret}`;
    },
    'console-replication': async ({ page }) => {
      const walk = consoleWalk(page);
      // How IDC a's containers reach IDC b: its proxy on the shared network.
      const url = 'http://nginx-b';
      await walk.addRegistry({ name: 'idc-b-console', url, username: 'admin', password: PASSWORD });
      t.pass('IDC b added as a registry in the console; the connection test answers');
      await walk.createPolicy('team-to-b', 'push', `idc-b-console (${url})`, 'team/**');
      await walk.replicateNow('team-to-b', 120_000);
      t.pass('the policy made in the console ran until it succeeded');
      await walk.nav('Topology');
      const edge = walk.topologyEdge('team-to-b');
      await edge.waitFor();
      t.equal(await edge.getAttribute('data-status'), 'Succeed', 'the topology picture shows the edge and its result');
      return '';
    },
  };

  for await (const line of createInterface({ input: smoke.stdout })) {
    out += `${line}\n`;
    const pause = /^compose-smoke: pause (\S+) ns=(\S+) a=(\S+) b=(\S+)$/.exec(line);
    if (!pause) continue;
    const [, name, ns, a] = pause;
    const f = parts[name];
    const answer = f ? await part(name, (b) => f(b, a), ns, a) : 'stop';
    smoke.stdin.write(`${answer}\n`);
  }
  const code = await exited;
  if (code !== 0) t.comment(out.slice(-6000));
  t.equal(code, 0, 'scripts/compose-smoke.sh passed');
  t.notMatch(out, /compose-smoke: SKIP/, 'it ran, not skipped for a missing tool');
  t.match(out, /pushed to a, pulled from b and from b's agent/);
  t.match(out, /the console's robot pushed team\/app:1 to a; b serves it/);
  t.match(out, /3 pulls served by berth-a2 alone/);
  t.match(out, /compose-smoke: \[\d+s\] PASS/);
});
