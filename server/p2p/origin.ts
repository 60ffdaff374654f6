import { isIPv4 } from 'node:net';
import Router from '@koa/router';
import type { Context } from 'koa';
import { parseDigest, type Digest } from '../../core/digest.js';
import { RegistryError } from '../../core/errors.js';
import { parseRepositoryName } from '../../core/names.js';
import { splitHostPort } from '../../core/config.js';
import type { RegistryDeps } from '../oci/deps.js';
import { queryParam, readSmallBody } from '../oci/http.js';
import { sendBlobBody } from '../oci/blobs.js';
import type { Throttle } from '../../core/throttle.js';
import { TorrentCatalog, torrentFile } from './metainfo.js';
import { OriginSeed } from './origin-seed.js';
import { PreheatOnPush, PreheatQueue } from './preheat.js';
import { UrlSigner } from './signing.js';
import { SwarmDirectory } from './swarm-directory.js';
import { swarmView, type SwarmView } from './swarm-view.js';
import { Tracker, normalizeIp } from './tracker.js';

// The origin side of P2P distribution, mounted at /p2p/v1/ (and the preheat API):
//   GET  /p2p/v1/blobs/<digest>/torrent?repository=<name>   metainfo (pull right on the repository)
//   GET  /p2p/v1/announce                                   the tracker-scheduler
//   GET  /p2p/v1/webseed/<digest>?s=<signature>             BEP 19 web seed, range reads
//   POST /api/v2.0/berth/p2p/preheat {repository, tag}      ask seed agents to fetch an image
//   GET  /p2p/v1/preheat/tasks?after=<id>&wait=<s>          seed agents long-poll for that

/** Seconds between regular announces; a peer silent for three of them is dropped. */
const announceInterval = 30;

export interface P2pOrigin {
  router: Router;
  egress: Throttle;
  seed: OriginSeed;
  /** Preheat tasks for seed agents (Harbor's preheat policies create them too). */
  preheat: PreheatQueue;
  /** Who holds `digest` in its swarm, per IDC (the console's picture); undefined when it never had one. */
  swarmOf(digest: Digest): Promise<SwarmView | undefined>;
  close(): Promise<void>;
}

/**
 * Builds the P2P origin over the registry's deps. `deps.egress` must be the limiter returned here (serve.ts
 * sets it) so that plain GETs share the cap with the web seed and the seed.
 */
export async function startP2pOrigin(deps: RegistryDeps, egress: Throttle): Promise<P2pOrigin> {
  const { config, log } = deps;
  const catalog = new TorrentCatalog(deps.meta, deps.registry.blobs, log);
  const signer = await UrlSigner.open(deps.meta);
  const directory = new SwarmDirectory(deps.meta, announceInterval * 3 * 1000);
  const { p2pSeedBytes: seedBytes, p2pWebSeedBytes: webSeedBytes, p2pAnnounces: announces } = deps.metrics;

  const seed = new OriginSeed({
    catalog,
    blobs: deps.registry.blobs,
    egress,
    counters: [deps.metrics.blobBytesServed, seedBytes],
    log,
    slots: config.p2p_seed_slots,
    // A complete peer can give every piece: while one is alive the origin's seed stays quiet.
    seeders: async (infoHash) => (await directory.peers(infoHash)).filter((p) => !p.origin && !p.flagged && p.left === 0).length,
  });
  const { host, port } = splitHostPort(config.p2p_seed_addr);
  await seed.listen(host, port);
  const seedIp = config.p2p_seed_ip ?? advertisedIp(config.public_url, host);
  log.info({ addr: `${host}:${seed.port}`, advertised: `${seedIp}:${seed.port}`, slots: config.p2p_seed_slots, egressLimit: egress.bytesPerSecond }, 'p2p origin seed listening');

  const tracker = new Tracker({ catalog, directory, signer, seed, seedIp, idc: config.idc, log, interval: announceInterval });
  const preheat = new PreheatQueue(deps.meta, deps.registry);
  const onPush = new PreheatOnPush(deps.meta, preheat, config.p2p_preheat_on_push, log);
  onPush.start();

  const baseUrl = (ctx: Context) => (config.public_url ?? `${ctx.protocol}://${ctx.host}`).replace(/\/+$/, '');
  const router = new Router();

  router.get('/p2p/v1/blobs/:digest/torrent', async (ctx) => {
    const digest = parseDigest(ctx.params.digest!);
    const repository = await pullableRepository(ctx, deps, digest);
    const torrent = await catalog.forBlob(digest);
    if (!torrent) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest, repository } });
    const base = baseUrl(ctx);
    const announce = `${base}/p2p/v1/announce?ticket=${signer.sign('announce', torrent.infoHash, config.p2p_ticket_ttl_seconds)}`;
    const webSeed = `${base}/p2p/v1/webseed/${digest}?s=${signer.sign('webseed', digest, config.p2p_webseed_ttl_seconds)}`;
    ctx.type = 'application/x-bittorrent';
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Berth-Infohash', torrent.infoHash);
    ctx.body = torrentFile(torrent, announce, webSeed);
  });

  router.get('/p2p/v1/announce', async (ctx) => {
    announces.inc();
    ctx.type = 'text/plain';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await tracker.announce(ctx.querystring, normalizeIp(ctx.request.ip || ctx.req.socket.remoteAddress || '127.0.0.1'));
  });

  const webSeed = async (ctx: Context, headOnly: boolean) => {
    const digest = parseDigest(ctx.params.digest!);
    if (!signer.verify('webseed', digest, queryParam(ctx, 's'))) throw new RegistryError('DENIED', 'web seed signature missing, invalid or expired');
    const info = await deps.registry.blobs.stored(digest);
    if (!info) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
    ctx.set('Accept-Ranges', 'bytes');
    ctx.set('Docker-Content-Digest', digest);
    ctx.type = 'application/octet-stream';
    await sendBlobBody(ctx, deps, info, headOnly, (n) => webSeedBytes.inc(n));
  };
  // HEAD first: @koa/router lets a GET route answer HEAD too, and the first matching route wins.
  router.head('/p2p/v1/webseed/:digest', (ctx) => webSeed(ctx, true));
  router.get('/p2p/v1/webseed/:digest', (ctx) => webSeed(ctx, false));

  router.post('/api/v2.0/berth/p2p/preheat', async (ctx) => {
    let body: { repository?: unknown; tag?: unknown };
    try {
      body = JSON.parse((await readSmallBody(ctx, 64 * 1024)).toString('utf8')) as typeof body;
    } catch {
      throw new RegistryError('UNSUPPORTED', 'expected a JSON body {"repository": "...", "tag": "..."}', { status: 400 });
    }
    if (typeof body.repository !== 'string' || typeof body.tag !== 'string' || !/^[\w][\w.-]{0,127}$/.test(body.tag)) {
      throw new RegistryError('UNSUPPORTED', 'expected a JSON body {"repository": "...", "tag": "..."}', { status: 400 });
    }
    const repository = parseRepositoryName(body.repository);
    // Preheating spends origin bandwidth on the repository's behalf: the caller must be able to push to it.
    await deps.authorizer.authorize(ctx, [{ repository, actions: ['pull', 'push'] }]);
    const task = await preheat.create(repository, body.tag);
    if (!task) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { repository, tag: body.tag } });
    log.info({ repository, tag: body.tag, blobs: task.blobs.length }, 'p2p preheat task');
    ctx.status = 201;
    ctx.body = task;
  });

  router.get('/p2p/v1/preheat/tasks', async (ctx) => {
    await deps.authorizer.authorize(ctx, []);
    const after = Number(queryParam(ctx, 'after') ?? 0) || 0;
    const waitMs = Math.min(60, Math.max(0, Number(queryParam(ctx, 'wait') ?? 0) || 0)) * 1000;
    const deadline = Date.now() + waitMs;
    const visible: Awaited<ReturnType<PreheatQueue['after']>> = [];
    let last = after;
    for (;;) {
      const tasks = await preheat.after(last);
      if (tasks.length) last = tasks[tasks.length - 1]!.id;
      for (const t of tasks) if (await deps.authorizer.canPull(ctx, t.repository)) visible.push(t);
      if (visible.length > 0 || Date.now() >= deadline || ctx.req.destroyed) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { tasks: visible, last };
  });

  // A seed agent reports how a task went: what Harbor-shaped preheat executions show as their tasks' status.
  router.post('/p2p/v1/preheat/tasks/:id/result', async (ctx) => {
    const task = await preheat.tasks.get(Number(ctx.params.id) || 0);
    if (!task) throw new RegistryError('UNSUPPORTED', 'no such preheat task', { status: 404 });
    await deps.authorizer.authorize(ctx, [{ repository: task.repository, actions: ['pull'] }]);
    let body: { peer?: unknown; fetched?: unknown; failed?: unknown };
    try {
      body = JSON.parse((await readSmallBody(ctx, 4096)).toString('utf8')) as typeof body;
    } catch {
      body = {};
    }
    const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);
    const fetched = count(body.fetched);
    const failed = count(body.failed);
    if (typeof body.peer !== 'string' || fetched === undefined || failed === undefined) {
      throw new RegistryError('UNSUPPORTED', 'expected a JSON body {"peer": "...", "fetched": n, "failed": n}', { status: 400 });
    }
    await preheat.ack(task.id, body.peer.slice(0, 128), fetched, failed);
    ctx.status = 204;
  });

  router.get('/p2p/v1/seed', (ctx) => {
    const infoHash = queryParam(ctx, 'infohash') ?? '';
    ctx.body = { port: seed.port, ip: seedIp, swarm: seed.stats(infoHash) ?? null };
  });

  return {
    router,
    egress,
    seed,
    preheat,
    swarmOf: (digest) => swarmView(catalog, directory, digest),
    close: async () => {
      onPush.stop();
      await seed.close();
    },
  };
}

/**
 * The repository through which the caller may pull `digest`: the `repository` parameter (pull right checked,
 * blob linked there), or without it any repository holding the blob that the caller may pull from.
 */
async function pullableRepository(ctx: Context, deps: RegistryDeps, digest: Digest): Promise<string> {
  const named = queryParam(ctx, 'repository');
  if (named) {
    const repository = parseRepositoryName(named);
    await deps.authorizer.authorize(ctx, [{ repository, actions: ['pull'] }]);
    if ((await deps.registry.blobs.linkedSize(repository, digest)) === undefined) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest, repository } });
    return repository;
  }
  const holders = await deps.registry.blobs.holders(digest, 100);
  for (const r of holders) if (await deps.authorizer.canPull(ctx, r)) return r;
  // "Not stored" and "stored where you may not pull" answer alike, naming no repository: an anonymous caller
  // gets the scope-less challenge (401), anyone else 404. Otherwise the answer tells who holds which digest.
  await deps.authorizer.authorize(ctx, []);
  throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
}

function advertisedIp(publicUrl: string | undefined, listenHost: string): string {
  const fromUrl = publicUrl ? new URL(publicUrl).hostname : '';
  if (isIPv4(fromUrl)) return fromUrl;
  if (isIPv4(listenHost) && listenHost !== '0.0.0.0') return listenHost;
  return '127.0.0.1';
}
