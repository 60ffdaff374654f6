import cluster from 'node:cluster';
import type { Logger } from '../core/log.js';

/**
 * Runs `workers` copies of the registry sharing one listening port (node's cluster module), so every core serves
 * HTTP and hashes uploads. Workers are stateless over the shared stores; a worker that dies is replaced.
 * Returns true in the primary (which then only supervises), false in a worker (which should serve).
 */
export function superviseWorkers(workers: number, log: Logger): boolean {
  if (workers <= 1 || !cluster.isPrimary) return false;
  let stopping = false;
  const fork = (index: number) => {
    const w = cluster.fork({ BERTH_WORKER_INDEX: String(index) });
    w.on('exit', (code, signal) => {
      if (stopping) return;
      log.error({ worker: index, code, signal }, 'worker exited; starting another');
      setTimeout(() => fork(index), 500).unref();
    });
  };
  for (let i = 0; i < workers; i++) fork(i);
  log.info({ workers }, 'berth primary supervising workers');
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w) => w && !w.isDead());
    if (alive.length === 0) process.exit(0);
    let left = alive.length;
    for (const w of alive) {
      w!.once('exit', () => {
        if (--left === 0) process.exit(0);
      });
      w!.process.kill(signal);
    }
    setTimeout(() => process.exit(1), 12_000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGTERM'));
  return true;
}

/** The index of this worker (0 without cluster): worker 0 runs the periodic jobs. */
export function workerIndex(): number {
  return Number(process.env.BERTH_WORKER_INDEX ?? 0);
}
