#!/usr/bin/env node
import { createServer, type Server } from 'node:http';
import { Command } from 'commander';
import { Registry as MetricsRegistry } from 'prom-client';
import { ConfigError, loadServerConfig, splitHostPort, type ServerConfig } from '../core/config.js';
import { loadAgentConfig, type AgentConfig } from '../core/config.js';
import { startAgent } from '../p2p-agent/run.js';
import { createLogger } from '../core/log.js';
import { openBlobStore, openMetaStore } from '../storage-adapters/open.js';
import { collectGarbage } from '../registry/gc.js';
import { Registry } from '../registry/registry.js';
import { startRegistry, type MountedAccess } from '../server/serve.js';
import { AccessRecords } from '../server/auth/records.js';
import { superviseWorkers } from '../server/cluster.js';
import { ServerMetrics } from '../server/metrics.js';
import { observeWrites, startReplication, type ReplicationService } from '../replicator/service.js';
import { HybridLogicalClock } from '../core/hlc.js';
import { adminCommand } from './admin/index.js';

// The `berth` entry point: reads the configuration, opens the stores and hands them to the process asked for.

const program = new Command('berth').description('Berth: a private OCI container registry').showHelpAfterError();

program
  .command('serve')
  .description('run the registry (OCI API under /v2/, /metrics, /healthz)')
  .option('-c, --config <file>', 'YAML configuration file (BERTH_* variables override it)')
  .action(async (opts: { config?: string }) => {
    const config = configOrExit(opts.config);
    const log = createLogger(config.log_level, { service: 'berth-serve' });
    if (superviseWorkers(config.workers, log)) return;
    const { blobs, meta } = await openStoresOrExit(config);
    const metrics = new ServerMetrics();
    // One domain layer for the process: the registry's handlers write through it, replication reads through it.
    // Its MetaStore nudges the replication engine on every tag or manifest change.
    let replication: ReplicationService | undefined;
    const observed = observeWrites(meta, () => replication?.engine?.nudge());
    const domain = new Registry(blobs, observed, {
      clock: new HybridLogicalClock(),
      idc: config.idc,
      log,
      manifestCacheBytes: config.manifest_cache_bytes,
      proxyTagTtlMs: config.proxy_cache_ttl_seconds * 1000,
    });
    // Replication's API is always served, for system admins; its engine runs here unless BERTH_REPLICATOR=off
    // (`berth replicate`); pull policies write into this registry over HTTP, as the system.
    const startReplicationWith = async (access: MountedAccess) => {
      replication = await startReplication({
        config,
        log,
        stores: { meta, registry: domain },
        metrics: metrics.registry,
        runEngine: config.replicator === 'on',
        ...(config.auth === 'token' && access),
      });
      // Proxy-cache projects (projects exist with access control): a project's registry_id names the endpoint.
      if (config.auth === 'token') {
        const projects = new AccessRecords(meta);
        const upstreams = replication.upstreams;
        domain.proxy.use({ registryIdOf: async (p) => (await projects.projectByName(p))?.registry_id, upstream: (id) => upstreams.upstream(id) });
      }
      return [replication.router];
    };
    const registry = await startRegistry(config, log, { blobs, meta: observed, registry: domain }, { routers: startReplicationWith, metrics }).catch((e: unknown) => {
      if (e instanceof ConfigError) fail(e.message);
      throw e;
    });
    const shutdown = async (signal: string) => {
      log.info({ signal }, 'shutting down');
      const force = setTimeout(() => process.exit(1), 10_000);
      force.unref();
      await replication?.close();
      await registry.close();
      await Promise.allSettled([blobs.close(), meta.close()]);
      process.exit(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });

program
  .command('replicate')
  .description('run only the replication engine (for `berth serve` instances started with BERTH_REPLICATOR=off)')
  .option('-c, --config <file>', 'YAML configuration file (BERTH_* variables override it)')
  .option('--metrics-addr <host:port>', 'serve /metrics here')
  .action(async (opts: { config?: string; metricsAddr?: string }) => {
    const config = configOrExit(opts.config);
    const log = createLogger(config.log_level, { service: 'berth-replicate' });
    const { blobs, meta } = await openStoresOrExit(config);
    const metrics = new MetricsRegistry();
    const replication = await startReplication({ config, log, stores: { meta, registry: new Registry(blobs, meta, { clock: new HybridLogicalClock(), idc: config.idc, log }) }, metrics, runEngine: true });
    let server: Server | undefined;
    if (opts.metricsAddr) {
      const { host, port } = splitHostPort(opts.metricsAddr);
      server = createServer((req, res) => {
        void metrics.metrics().then((text) => {
          res.writeHead(req.url === '/metrics' ? 200 : 404, { 'Content-Type': metrics.contentType });
          res.end(req.url === '/metrics' ? text : '');
        });
      }).listen(port, host);
    }
    log.info({ idc: config.idc }, 'berth replicator started');
    const shutdown = async (signal: string) => {
      log.info({ signal }, 'shutting down');
      const force = setTimeout(() => process.exit(1), 10_000);
      force.unref();
      server?.close();
      await replication.close();
      await Promise.allSettled([blobs.close(), meta.close()]);
      process.exit(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });

program
  .command('gc')
  .description('garbage-collect unreferenced manifests, blobs and stale uploads (safe while serving)')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--dry-run', 'report what would be removed, remove nothing')
  .option('--grace <seconds>', 'override gc_grace_seconds')
  .action(async (opts: { config?: string; dryRun?: boolean; grace?: string }) => {
    const config = configOrExit(opts.config);
    const log = createLogger(config.log_level, { service: 'berth-gc' });
    const { blobs, meta } = await openStoresOrExit(config);
    const graceSeconds = opts.grace !== undefined ? Number(opts.grace) : config.gc_grace_seconds;
    if (!Number.isFinite(graceSeconds) || graceSeconds < 0) fail('--grace must be a non-negative number of seconds');
    const report = await collectGarbage({ blobs, meta, log }, { graceMs: graceSeconds * 1000, uploadTtlMs: config.upload_ttl_seconds * 1000, dryRun: opts.dryRun });
    process.stdout.write(JSON.stringify(report) + '\n');
    await Promise.allSettled([blobs.close(), meta.close()]);
    if (report.skipped) process.exitCode = 3;
  });

program
  .command('agent')
  .description('run the P2P node agent: a pull-only registry on 127.0.0.1 that fetches layers from peers')
  .option('-c, --config <file>', 'YAML configuration file (BERTH_* variables override it, e.g. BERTH_ORIGIN)')
  .action(async (opts: { config?: string }) => {
    let config: AgentConfig;
    try {
      config = loadAgentConfig({ file: opts.config });
    } catch (e) {
      if (e instanceof ConfigError) fail(e.message);
      throw e;
    }
    const log = createLogger(config.log_level, { service: 'berth-agent' });
    const agent = await startAgent(config, log);
    const shutdown = async (signal: string) => {
      log.info({ signal }, 'shutting down');
      const force = setTimeout(() => process.exit(1), 10_000);
      force.unref();
      await agent.close();
      process.exit(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });

adminCommand(program);

function configOrExit(file: string | undefined): ServerConfig {
  try {
    return loadServerConfig({ file });
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
}

/** Opens both stores and checks they answer, so a configuration that cannot work stops the process at start. */
async function openStoresOrExit(config: ServerConfig) {
  const blobs = await openBlobStore(config);
  const meta = await openMetaStore(config);
  const where = { storage: config.storage === 's3' ? `s3 bucket ${config.s3_bucket} at ${config.s3_endpoint ?? 'AWS'}` : `filesystem ${config.data_dir}`, meta: config.meta === 'redis' ? `redis ${config.redis_url ?? config.redis_sentinels ?? config.redis_cluster}` : `sqlite in ${config.data_dir}` };
  const checks = await Promise.allSettled([blobs.ping(), meta.ping()]);
  const problems = checks.flatMap((c, i) => (c.status === 'rejected' ? [`${i === 0 ? where.storage : where.meta}: ${(c.reason as Error).message}`] : []));
  if (problems.length > 0) {
    await Promise.allSettled([blobs.close(), meta.close()]);
    fail(`cannot use the configured stores:\n  ${problems.join('\n  ')}`);
  }
  return { blobs, meta };
}

function fail(message: string): never {
  process.stderr.write(`berth: ${message}\n`);
  process.exit(2);
}

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ConfigError) fail(e.message);
  process.stderr.write(`berth: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
