// `npm run harbor-coverage`: how many of Harbor's API operations Berth answers, by group, measured against a
// running Berth, not read off a list. Every operation of Harbor's swagger (kept in test/data/harbor with its
// version) is sent to a fresh `berth serve` (access control on, as the system admin) with placeholder path
// parameters; an operation counts as answered unless Berth gives the answer it gives for a path nobody serves
// (or "method not allowed"). "Project not found" or "bad request" for the placeholders are answers: the route is there.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SWAGGER = join(root, 'test', 'data', 'harbor', 'swagger-v2.15.2.yaml');
const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'] as const;
/** Groups the Harbor-API issue leaves out (scanners, LDAP/OIDC/groups, jobservice, security hub). */
export const OUT_OF_SCOPE = new Set(['scanner', 'scanAll', 'scan', 'scan data export', 'securityhub', 'Ldap', 'oidc', 'usergroup', 'jobservice', 'icon']);

export interface Operation {
  method: (typeof METHODS)[number];
  path: string;
  group: string;
  operationId: string;
}

export interface Coverage {
  version: string;
  operations: (Operation & { answered: boolean; status: number })[];
}

export async function harborOperations(file = SWAGGER): Promise<{ version: string; operations: Operation[] }> {
  const doc = parse(await readFile(file, 'utf8')) as { paths: Record<string, Record<string, { tags?: string[]; operationId?: string }>> };
  const version = /swagger-(v[\d.]+)\.yaml$/.exec(file)?.[1] ?? 'unknown';
  const operations: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = ops[method];
      if (op) operations.push({ method, path, group: op.tags?.[0] ?? 'untagged', operationId: op.operationId ?? `${method} ${path}` });
    }
  }
  return { version, operations };
}

/** A placeholder for a path parameter: ids are numbers, names are names. */
function placeholder(name: string): string {
  if (/(^|_)id$|_id$|^id$/.test(name) && name !== 'project_name_or_id') return '1';
  if (name === 'reference') return 'latest';
  return 'probe';
}

function concrete(path: string): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => placeholder(name));
}

interface Answer {
  status: number;
  signature: string;
}

async function send(base: string, auth: string, method: string, path: string): Promise<Answer> {
  const hasBody = method === 'post' || method === 'put' || method === 'patch';
  const r = await fetch(`${base}/api/v2.0${path}`, {
    method: method.toUpperCase(),
    headers: { Authorization: auth, ...(hasBody && { 'Content-Type': 'application/json' }) },
    ...(hasBody && { body: '{}' }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await r.text().catch(() => '');
  let signature = '';
  try {
    const e = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
    signature = `${e?.code}:${e?.message}`;
  } catch {
    /* not JSON: an answer */
  }
  return { status: r.status, signature };
}

/** Probes every operation against `base`; `auth` is a system admin's Authorization header. */
export async function probe(base: string, auth: string, file = SWAGGER): Promise<Coverage> {
  const { version, operations } = await harborOperations(file);
  // What "nobody serves this" looks like here, for an unknown path and for a known path with a wrong method.
  const missing = await send(base, auth, 'get', '/__berth_no_such_route__/x');
  const wrongMethod = await send(base, auth, 'patch', '/ping');
  const isMissing = (a: Answer) =>
    (a.status === missing.status && a.signature === missing.signature) || (a.status === wrongMethod.status && a.signature === wrongMethod.signature) || a.status === 501;
  // Reads first, then writes, deletes last: a delete may remove what a later probe would have found.
  const order = { get: 0, head: 0, post: 1, put: 1, patch: 1, delete: 2 } as const;
  const out: Coverage['operations'] = [];
  for (const op of [...operations].sort((a, b) => order[a.method] - order[b.method])) {
    const a = await send(base, auth, op.method, concrete(op.path));
    out.push({ ...op, answered: !isMissing(a), status: a.status });
  }
  return { version, operations: out };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A throwaway `berth serve` with access control, for the probe. */
async function startBerth(): Promise<{ url: string; auth: string; stop: () => Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-harbor-coverage-'));
  const port = await freePort();
  const password = `Coverage-${process.pid}-Aa1`;
  const child: ChildProcess = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'serve'], {
    env: { ...process.env, BERTH_ADDR: `127.0.0.1:${port}`, BERTH_DATA_DIR: dataDir, BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: password, BERTH_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  for (const deadline = Date.now() + 30_000; ; ) {
    if (child.exitCode !== null) throw new Error(`berth exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error('berth did not start in 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, auth: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`, stop };
}

export function table(c: Coverage): string {
  const groups = new Map<string, { answered: number; total: number }>();
  for (const op of c.operations) {
    const g = groups.get(op.group) ?? { answered: 0, total: 0 };
    g.total++;
    if (op.answered) g.answered++;
    groups.set(op.group, g);
  }
  const rows = [...groups].sort((a, b) => b[1].total - a[1].total || a[0].localeCompare(b[0]));
  const width = Math.max(...rows.map(([g]) => g.length), 12);
  const line = (name: string, a: number, t: number, note = '') => `${name.padEnd(width)}  ${String(a).padStart(3)} / ${String(t).padEnd(3)} ${note}`;
  const total = c.operations.length;
  const answered = c.operations.filter((o) => o.answered).length;
  const scoped = c.operations.filter((o) => !OUT_OF_SCOPE.has(o.group));
  return [
    `Harbor ${c.version} API (${total} operations): Berth answers ${answered}; in scope (no scanners, LDAP/OIDC/groups, jobservice, security hub, icons): ${scoped.filter((o) => o.answered).length} / ${scoped.length}`,
    '',
    ...rows.map(([g, v]) => line(g, v.answered, v.total, OUT_OF_SCOPE.has(g) ? '(out of scope)' : '')),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const berth = await startBerth();
  try {
    const c = await probe(berth.url, berth.auth);
    if (args.includes('--json')) console.log(JSON.stringify(c, null, 2));
    else {
      console.log(table(c));
      if (args.includes('--missing')) {
        console.log('\nNot answered:');
        for (const op of c.operations.filter((o) => !o.answered)) console.log(`  ${op.method.toUpperCase().padEnd(6)} ${op.path}  (${op.group})`);
      }
    }
  } finally {
    await berth.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
