// /api/v2.0/openapi.json against the routes the app really mounts: a registry composed in-process as `berth
// serve` composes it (admin API, P2P origin, replication's API), its route table read off its routers, and
// every /api/v2.0 route must be documented with an operationId, a tag and its statuses — and every documented
// operation served.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry as MetricsRegistry } from 'prom-client';
import t from 'tap';
import { loadServerConfig } from '../../core/config.js';
import { HybridLogicalClock } from '../../core/hlc.js';
import { createLogger } from '../../core/log.js';
import { Registry } from '../../registry/registry.js';
import { startReplication, type ReplicationService } from '../../replicator/service.js';
import { startRegistry } from '../../server/serve.js';
import { openBlobStore, openMetaStore } from '../../storage-adapters/open.js';

const dataDir = await mkdtemp(join(tmpdir(), 'berth-openapi-'));
const config = loadServerConfig({ env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: 'Admin12345', BERTH_ADDR: '127.0.0.1:0', BERTH_DATA_DIR: dataDir, BERTH_LOG_LEVEL: 'silent' } });
const log = createLogger('silent');
const blobs = await openBlobStore(config);
const meta = await openMetaStore(config);
const domain = new Registry(blobs, meta, { clock: new HybridLogicalClock(), idc: config.idc, log });
let replication: ReplicationService | undefined;
const registry = await startRegistry(config, log, { blobs, meta, registry: domain }, {
  routers: async (access) => {
    replication = await startReplication({ config, log, stores: { meta, registry: domain }, metrics: new MetricsRegistry(), runEngine: false, ...access });
    return [replication.router];
  },
});
t.teardown(async () => {
  await registry.close();
  await replication?.close();
  await blobs.close();
  await meta.close();
  await rm(dataDir, { recursive: true, force: true });
});
const port = (registry.server.address() as { port: number }).port;
const doc = (await (await fetch(`http://127.0.0.1:${port}/api/v2.0/openapi.json`)).json()) as { paths: Record<string, Record<string, any>> };

const PREFIX = '/api/v2.0';
const served = registry.routes.filter((r) => r.path.startsWith(`${PREFIX}/`)).map((r) => ({ method: r.method, path: r.path.slice(PREFIX.length) }));

t.test('the route table is read off the app', async (t) => {
  t.ok(served.length >= 78, `${served.length} routes under ${PREFIX}`);
  t.ok(served.some((r) => r.method === 'post' && r.path === '/replication/policies'), 'replication\'s API is in it');
  t.ok(served.some((r) => r.method === 'post' && r.path === '/berth/p2p/preheat'), 'and the P2P origin\'s');
  t.ok(served.some((r) => r.method === 'head' && r.path === '/projects'), 'a HEAD of its own is kept');
});

t.test('every served route is documented with an operationId, a tag and its failures', async (t) => {
  const missing = served.filter((r) => !doc.paths[r.path]?.[r.method]).map((r) => `${r.method.toUpperCase()} ${r.path}`);
  t.same(missing, [], 'nothing served is left out');
  const problems: string[] = [];
  for (const r of served) {
    const op = doc.paths[r.path]?.[r.method];
    if (!op) continue;
    const name = `${r.method.toUpperCase()} ${r.path}`;
    if (typeof op.operationId !== 'string' || op.operationId === '') problems.push(`${name}: no operationId`);
    if (!Array.isArray(op.tags) || op.tags.length !== 1) problems.push(`${name}: no tag`);
    if (!op.responses['500']) problems.push(`${name}: 500 undeclared`);
    if (op.security?.length !== 0 && !(op.responses['401'] && op.responses['403'])) problems.push(`${name}: 401/403 undeclared`);
  }
  t.same(problems, [], 'each with an operationId, a tag, 500, and 401/403 where it authenticates');
});

t.test('every documented operation is served', async (t) => {
  const key = (m: string, p: string) => `${m} ${p}`;
  const routes = new Set(served.map((r) => key(r.method, r.path)));
  const extra: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) for (const m of Object.keys(methods)) if (!routes.has(key(m, path))) extra.push(key(m.toUpperCase(), path));
  t.same(extra, []);
  const ids = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId as string));
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique');
});

t.test('statuses and headers the routes answer are declared', async (t) => {
  t.ok(doc.paths['/projects/{project_name_or_id}']!.delete.responses['412'], 'deleteProject: 412 while it holds repositories');
  const artifact = '/projects/{project_name}/repositories/{repository_name}/artifacts';
  t.ok(doc.paths[`${artifact}/{reference}`]!.delete.responses['412'], 'deleteArtifact: 412 for an index child');
  t.ok(doc.paths[artifact]!.post.responses['201'].headers.Location, 'copyArtifact: Location');
  t.notOk(doc.paths[`${artifact}/{reference}/tags`]!.post.responses['201'].headers?.Location, 'createTag: no Location, as Harbor');
  t.ok(doc.paths['/labels']!.post.responses['409'], 'createLabel: 409');
  t.ok(doc.paths['/labels']!.get.responses['200'].headers['X-Total-Count'], 'listLabels: paging headers');
  t.equal(doc.paths['/replication/policies']!.post.operationId, 'createReplicationPolicy');
  t.ok(doc.paths['/registries/{id}']!.delete.responses['412'], 'deleteRegistry: 412 while policies use it');
  // A real refusal of each kind, answered as declared.
  const auth = `Basic ${Buffer.from('admin:Admin12345').toString('base64')}`;
  const tooBig = await fetch(`http://127.0.0.1:${port}${PREFIX}/labels?page_size=500&scope=g`, { headers: { Authorization: auth } });
  t.equal(tooBig.status, 422);
  t.ok(doc.paths['/labels']!.get.responses['422'], 'and 422 is declared');
  const anonymous = await fetch(`http://127.0.0.1:${port}${PREFIX}/registries`);
  t.equal(anonymous.status, 401);
});
