import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Replication's Prometheus metrics, registered in the registry the process serves at /metrics. */
export class ReplicationMetrics {
  /** Seconds from a change at the source (its outbox time) to its verified arrival at the destination. */
  readonly lag: Histogram<'policy'>;
  /** Tasks waiting or running, per policy. */
  readonly queueDepth: Gauge<'policy'>;
  readonly bytes: Counter<'policy'>;
  readonly failures: Counter<'policy'>;
  readonly tasks: Counter<'policy' | 'status'>;
  /** Age of the oldest change still waiting to reach the destination (0 when caught up). */
  readonly backlogAge: Gauge<'policy'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.lag = new Histogram({
      name: 'berth_replication_lag_seconds',
      help: 'Seconds from a change at the source to its verified arrival at the destination',
      labelNames: ['policy'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    this.queueDepth = new Gauge({ name: 'berth_replication_queue_depth', help: 'Replication tasks waiting or running', labelNames: ['policy'], registers });
    this.bytes = new Counter({ name: 'berth_replication_bytes_total', help: 'Blob bytes sent by replication', labelNames: ['policy'], registers });
    this.failures = new Counter({ name: 'berth_replication_failures_total', help: 'Failed replication attempts (each retry counts)', labelNames: ['policy'], registers });
    this.tasks = new Counter({ name: 'berth_replication_tasks_total', help: 'Replication tasks finished, by outcome', labelNames: ['policy', 'status'], registers });
    this.backlogAge = new Gauge({
      name: 'berth_replication_backlog_age_seconds',
      help: 'Age of the oldest change still waiting to reach the destination',
      labelNames: ['policy'],
      registers,
    });
  }
}
