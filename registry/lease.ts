import type { Logger } from '../core/log.js';
import type { Lock, MetaStore } from '../storage-adapters/meta/meta-store.js';

// One active instance per IDC for a duty (the replication engine, webhook delivery): the one holding this
// MetaStore lease. The others try again every poll and take over when it lapses or is released.

const TTL_MS = 15_000;
const RENEW_MS = 5_000;

export class Lease {
  private lock: Lock | undefined;
  private renewal: NodeJS.Timeout | undefined;
  private renewing = false;

  constructor(
    /** The duty's lock name: one holder per MetaStore (per IDC). */
    private readonly name: string,
    private readonly meta: MetaStore,
    private readonly log: Logger,
    /** Called when a renewal finds the lease taken: the holder must stop acting as the active instance. */
    private readonly lost: (why: string) => void,
  ) {}

  get held(): boolean {
    return this.lock !== undefined;
  }

  /** Takes the lease when free; true when it was just taken. While held it is renewed by a timer of its own,
   *  so a long tick (a first scan of a big outbox) never lets it lapse into a second active instance. */
  async take(): Promise<boolean> {
    if (this.lock) return false;
    this.lock = await this.meta.acquireLock(this.name, TTL_MS);
    if (!this.lock) return false;
    this.renewal = setInterval(() => void this.renew(), RENEW_MS);
    this.renewal.unref();
    return true;
  }

  /** Stops renewing and forgets the lease; returns it for the caller to release (released, not left to expire,
   *  a standby takes over within its next try rather than the TTL). */
  relinquish(): Lock | undefined {
    if (this.renewal) clearInterval(this.renewal);
    this.renewal = undefined;
    const lock = this.lock;
    this.lock = undefined;
    return lock;
  }

  /** Renewal is release + acquire (the MetaStore's lock has no extend); losing the race means stepping down. */
  private async renew(): Promise<void> {
    if (!this.lock || this.renewing) return;
    this.renewing = true;
    try {
      await this.lock.release().catch(() => undefined);
      this.lock = await this.meta.acquireLock(this.name, TTL_MS).catch(() => undefined);
      if (!this.lock) {
        this.log.warn({ lease: this.name }, 'lease lost; standing by');
        this.relinquish();
        this.lost('lease lost');
      }
    } finally {
      this.renewing = false;
    }
  }
}
