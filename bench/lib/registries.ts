// The registries under test: CNCF distribution (Debian's docker-registry) and Berth in its two storage modes,
// each started on a free loopback port with fresh data directories.
import { existsSync } from 'node:fs';
import { writeFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nginxBin, prepareNginx } from './nginx.js';
import { startTokenIssuer, tokenIssuerName, tokenService } from './token-issuer.js';
import { answers, ensureAptPackage, freePort, type Service, type ServicePool } from './processes.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const berthBin = join(repoRoot, 'dist', 'cli', 'main.js');

/** A registry that is up and answering. */
export interface Registry {
  /** e.g. "distribution", "Berth fs+SQLite" */
  label: string;
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port>, as skopeo wants it */
  host: string;
  /** The registry's own processes (their children, e.g. cluster workers, are found from them): Berth, and the
   *  nginx in front of it in the offload mode. */
  pids: number[];
  stop(): Promise<void>;
  /** `Bearer …` for clients that do not do the token dance (the bench's own, curl, wrk, ab), when auth is on: one
   *  token for every repository the scenarios use, checked by the registry on every request. */
  authorization?: string;
  /** user:password for clients that do the dance themselves (skopeo), when auth is on. */
  credentials?: string;
  /** The registry's scratch directory (Berth: its data_dir). */
  dataDir?: string;
}

export type RegistryId = 'distribution' | 'berth-fs' | 'berth-s3' | 'berth-nginx' | 'distribution-token' | 'berth-token';

/** The repositories the scenarios use (a token-auth registry's bench token covers them all). */
export const benchRepositories = ['bench/pull', 'bench/push', 'bench/hot', 'bench/cold', 'bench/manifest', 'bench/rss'];

export interface RegistrySpec {
  id: RegistryId;
  label: string;
  /** The storage shown in row titles for Berth modes. */
  storage: string;
  /** The distribution a Berth mode is compared with (default: distribution without auth). */
  baseline?: RegistryId;
  start(pool: ServicePool): Promise<Registry>;
}

/** Thrown when a registry mode cannot run here; the bench skips that mode and prints the reason. */
export class ModeUnavailable extends Error {}

export const distribution: RegistrySpec = {
  id: 'distribution',
  label: 'distribution',
  storage: 'filesystem',
  start: (pool) => startDistribution(pool, 'distribution'),
};

/** distribution with `auth: token`, its tokens from the bench's own issuer (RS256, certificate bundle). */
export const distributionToken: RegistrySpec = {
  id: 'distribution-token',
  label: 'distribution+token',
  storage: 'filesystem, token auth',
  async start(pool) {
    const dir = await pool.freshDir('token-issuer');
    const issuer = await startTokenIssuer(dir);
    try {
      const auth = ['auth:', '  token:', `    realm: ${issuer.realm}`, `    service: ${tokenService}`, `    issuer: ${tokenIssuerName}`, `    rootcertbundle: ${issuer.certFile}`];
      const reg = await startDistribution(pool, 'distribution+token', auth);
      return {
        ...reg,
        authorization: `Bearer ${await issuer.sign(benchRepositories, ['pull', 'push', 'delete'])}`,
        credentials: 'bench:bench',
        stop: async () => {
          await reg.stop();
          await issuer.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (e) {
      await issuer.close();
      throw e;
    }
  },
};

async function startDistribution(pool: ServicePool, label: string, authLines: string[] = []): Promise<Registry> {
    ensureAptPackage('docker-registry', 'docker-registry');
    const dir = await pool.freshDir('distribution');
    const port = await freePort();
    const config = join(dir, 'config.yml');
    // The Debian package's own defaults (filesystem, in-memory descriptor cache) minus auth, quiet logs: the
    // strongest plain baseline, and no access log to pay for since Berth writes none at level warn either.
    await writeFile(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: error',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(dir, 'data')}`,
        '  delete:',
        '    enabled: true',
        '  cache:',
        '    blobdescriptor: inmemory',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        ...authLines,
        '',
      ].join('\n'),
    );
    const url = `http://127.0.0.1:${port}`;
    const svc = await pool.start({
      name: label,
      command: 'docker-registry',
      args: ['serve', config],
      ready: () => answers(`${url}/v2/`, authLines.length ? 401 : 200),
    });
    return registry(label, port, svc, [], dir);
}

export const berthFs: RegistrySpec = {
  id: 'berth-fs',
  label: 'Berth fs+SQLite',
  storage: 'fs+SQLite',
  async start(pool) {
    return startBerth(pool, 'Berth fs+SQLite', {}, []);
  },
};

export const berthS3: RegistrySpec = {
  id: 'berth-s3',
  label: 'Berth S3+Redis',
  storage: 'S3+Redis',
  async start(pool) {
    const s3rverBin = findS3rver();
    if (!s3rverBin) throw new ModeUnavailable('s3rver is not installed (npm install brings it with the S3 adapter)');
    ensureAptPackage('redis-server', 'redis-server');

    const redisDir = await pool.freshDir('redis');
    const redisPort = await freePort();
    const redis = await pool.start({
      name: 'redis-server',
      command: 'redis-server',
      args: ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', redisDir],
      ready: () => redisPing(redisPort),
    });

    const s3Dir = await pool.freshDir('s3rver');
    const s3Port = await freePort();
    const bucket = 'berth-bench';
    let s3: Service;
    try {
      s3 = await pool.start({
        name: 's3rver',
        command: process.execPath,
        args: [s3rverBin, '-d', s3Dir, '-a', '127.0.0.1', '-p', String(s3Port), '--silent', '--no-vhost-buckets', '--configure-bucket', bucket],
        ready: () => answers(`http://127.0.0.1:${s3Port}/${bucket}`),
      });
    } catch (e) {
      await redis.stop();
      throw e;
    }
    const env = {
      BERTH_STORAGE: 's3',
      BERTH_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
      BERTH_S3_BUCKET: bucket,
      BERTH_S3_REGION: 'us-east-1',
      // s3rver's fixed credentials.
      BERTH_S3_ACCESS_KEY: 'S3RVER',
      BERTH_S3_SECRET_KEY: 'S3RVER',
      BERTH_META: 'redis',
      BERTH_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    };
    try {
      return await startBerth(pool, 'Berth S3+Redis', env, [s3, redis], [redisDir, s3Dir]);
    } catch (e) {
      await s3.stop();
      await redis.stop();
      throw e;
    }
  },
};

export const berthNginx: RegistrySpec = {
  id: 'berth-nginx',
  label: 'Berth fs+nginx',
  storage: 'fs+SQLite, nginx offload',
  async start(pool) {
    if (!existsSync(nginxBin)) throw new ModeUnavailable(`${nginxBin} is not installed (apt-get install nginx-light)`);
    const prefix = '/_berth/blobs/';
    const berth = await startBerth(pool, 'Berth fs+nginx', { BERTH_BLOB_OFFLOAD: 'nginx', BERTH_BLOB_OFFLOAD_PREFIX: prefix, BERTH_TRUSTED_PROXIES: '127.0.0.1' }, []);
    try {
      const port = await freePort();
      const dir = await pool.freshDir('nginx');
      // As many nginx workers as cores: distribution's Go runtime uses them all too.
      const args = await prepareNginx({ port, upstreamPort: Number(new URL(berth.url).port), dataDir: berth.dataDir!, prefix, dir, workers: 'auto' });
      const url = `http://127.0.0.1:${port}`;
      const svc = await pool.start({ name: 'nginx', command: nginxBin, args, ready: () => answers(`${url}/healthz`) });
      return {
        ...berth,
        url,
        host: `127.0.0.1:${port}`,
        pids: [...berth.pids, svc.pid],
        stop: async () => {
          await svc.stop();
          await berth.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (e) {
      await berth.stop();
      throw e;
    }
  },
};

/** Berth fs+SQLite with token auth: a private project `bench`, the admin's Bearer token on every request. */
export const berthToken: RegistrySpec = {
  id: 'berth-token',
  label: 'Berth fs+token',
  storage: 'fs+SQLite, token auth',
  baseline: 'distribution-token',
  async start(pool) {
    const password = 'Bench-admin-1';
    // Tokens live a day: a bench token must outlast the run (the default is 15 minutes).
    const reg = await startBerth(pool, 'Berth fs+token', { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: password, BERTH_TOKEN_TTL_SECONDS: String(24 * 3600) }, []);
    try {
      const basic = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
      const project = await fetch(`${reg.url}/api/v2.0/projects`, {
        method: 'POST',
        headers: { Authorization: basic, 'Content-Type': 'application/json' },
        body: JSON.stringify({ project_name: 'bench', metadata: { public: 'false' } }),
      });
      if (project.status !== 201) throw new Error(`creating project bench: ${project.status} ${await project.text()}`);
      const u = new URL(`${reg.url}/service/token`);
      u.searchParams.set('service', 'berth');
      for (const r of benchRepositories) u.searchParams.append('scope', `repository:${r}:pull,push,delete`);
      const tok = await fetch(u, { headers: { Authorization: basic } });
      if (tok.status !== 200) throw new Error(`token: ${tok.status} ${await tok.text()}`);
      const { token } = (await tok.json()) as { token: string };
      return { ...reg, authorization: `Bearer ${token}`, credentials: `admin:${password}` };
    } catch (e) {
      await reg.stop();
      throw e;
    }
  },
};

export const allRegistries: RegistrySpec[] = [distribution, berthFs, berthS3, berthNginx, distributionToken, berthToken];

async function startBerth(
  pool: ServicePool,
  label: string,
  env: Record<string, string>,
  backends: Service[],
  backendDirs: string[] = [],
): Promise<Registry> {
  if (!existsSync(berthBin)) throw new ModeUnavailable(`${berthBin} is not built yet`);
  const dir = await pool.freshDir('berth');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const svc = await pool.start({
    name: label,
    command: process.execPath,
    args: [berthBin, 'serve'],
    env: {
      ...process.env,
      BERTH_AUTH: 'none',
      BERTH_ADDR: `127.0.0.1:${port}`,
      BERTH_DATA_DIR: dir,
      BERTH_LOG_LEVEL: 'warn',
      ...env,
    },
    ready: () => answers(`${url}/healthz`),
  });
  return registry(label, port, svc, backends, dir, ...backendDirs);
}

function registry(label: string, port: number, svc: Service, backends: Service[], ...dirs: string[]): Registry {
  return {
    label,
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    pids: [svc.pid],
    dataDir: dirs[0],
    stop: async () => {
      await svc.stop();
      for (const b of backends) await b.stop();
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    },
  };
}

function findS3rver(): string | undefined {
  try {
    const pkgJson = createRequire(join(repoRoot, 'package.json')).resolve('s3rver/package.json');
    const bin = join(dirname(pkgJson), 'bin', 's3rver.js');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** True once redis answers PING on the port. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.on('error', () => resolve(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (b) => {
      got += b.toString();
      if (got.includes('\r\n')) {
        sock.destroy();
        resolve(got.startsWith('+PONG'));
      }
    });
  });
}
