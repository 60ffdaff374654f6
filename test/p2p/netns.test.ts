// A small datacenter in network namespaces (root only; skipped otherwise): bench/p2p-netns with 8 nodes, each
// its own host with a NIC capped at 16 Mbit/s, pulling one 2 MiB blob through their agents. Every pull must
// arrive intact (the clients check the sha256), the origin must send about one copy, and the last node must be
// done in a few times the physical bound — the regression net for the big rows, which are bench only.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { canMakeNamespaces } from '../helpers/netns.js';
import { repoRoot } from '../helpers/berth-process.js';

const bench = join(repoRoot, 'dist', 'bench', 'p2p-netns.js');

t.test('8 nodes on capped links: every pull intact, about one copy from the origin', { skip: canMakeNamespaces() ? false : 'needs root (network namespaces)' }, async (t) => {
  const prefix = `bt${process.pid % 100000}`;
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(process.execPath, [bench, '--nodes', '8', '--size', '2MiB', '--rate', '16', '--prefix', prefix], { timeout: 120_000 }, (err, stdout, stderr) =>
      err ? reject(Object.assign(err, { message: `${err.message}\n${stderr}` })) : resolve({ stdout, stderr }),
    );
  });
  const row = stdout.split('\n').find((l) => l.startsWith('| 8 |'));
  t.ok(row, `a result row (stderr: ${stderr.slice(-500)})`);
  const cells = row!.split('|').map((c) => c.trim());
  const copies = Number(/^([\d.]+)/.exec(cells[2]!)![1]);
  const maxRatio = Number(/\(([\d.]+)×\)/.exec(cells[6]!)![1]);
  const failed = Number(cells[9]);
  t.equal(failed, 0, 'every pull complete, its sha256 right');
  t.ok(copies <= 1.5, `the origin sent ${copies} copies (at most 1.5)`);
  // S/R is 1 s here; node processes starting on a busy CI machine leave room for a few.
  t.ok(maxRatio <= 8, `the last node was done at ${maxRatio}× S/R (at most 8×)`);
  const { stdout: left } = await new Promise<{ stdout: string }>((resolve) => execFile('ip', ['netns', 'list'], (_e, stdout) => resolve({ stdout })));
  t.notOk(left.split('\n').some((l) => l.startsWith(`${prefix}-`)), 'no namespace left behind');
});
