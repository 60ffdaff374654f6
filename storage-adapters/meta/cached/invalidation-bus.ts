import type { Cluster, Redis } from 'ioredis';

/** How instances tell each other what changed. */
export interface InvalidationBus {
  /** True while messages from other instances are being delivered. */
  readonly listening: boolean;
  /** Sends `message` to every instance; resolves once the broker has passed it on (rejects when it cannot). */
  publish(message: string): Promise<void>;
  /** `message` for each message from the bus, `state` whenever `listening` changes. One listener. */
  listen(listener: { message(message: string): void; state(listening: boolean): void }): void;
  close(): Promise<void>;
}

/**
 * The bus on Redis pub/sub: one connection publishes, a second one subscribes (a subscribed connection can do
 * nothing else). Both come from the MetaStore's settings (standalone, Sentinel or Cluster). `listening` is true
 * only between a confirmed SUBSCRIBE and the next loss of the subscriber connection.
 */
export class RedisInvalidationBus implements InvalidationBus {
  private subscribed = false;
  private closed = false;
  private listener: { message(message: string): void; state(listening: boolean): void } | undefined;

  constructor(
    private readonly pub: Redis | Cluster,
    private readonly sub: Redis | Cluster,
    private readonly channel: string,
  ) {
    sub.on('message', (ch: string, message: string) => {
      if (ch === this.channel && this.subscribed) this.listener?.message(message);
    });
    // (Re)subscribe on every new connection ourselves, so `listening` follows the real subscription.
    sub.on('ready', () => void this.subscribe());
    sub.on('close', () => this.setListening(false));
    sub.on('end', () => this.setListening(false));
    if (sub.status === 'ready') void this.subscribe();
    else if (sub.status === 'wait') void sub.connect().catch(() => {});
    if (pub.status === 'wait') void pub.connect().catch(() => {});
  }

  get listening(): boolean {
    return this.subscribed;
  }

  listen(listener: { message(message: string): void; state(listening: boolean): void }): void {
    this.listener = listener;
  }

  async publish(message: string): Promise<void> {
    await this.pub.publish(this.channel, message);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.setListening(false);
    await Promise.allSettled([quit(this.pub), quit(this.sub)]);
  }

  private async subscribe(): Promise<void> {
    if (this.closed) return;
    try {
      await this.sub.subscribe(this.channel);
      if (!this.closed && this.sub.status === 'ready') this.setListening(true);
    } catch {
      // the connection went again; the next 'ready' retries
    }
  }

  private setListening(on: boolean): void {
    if (this.subscribed === on) return;
    this.subscribed = on;
    this.listener?.state(on);
  }
}

async function quit(c: Redis | Cluster): Promise<void> {
  try {
    await c.quit();
  } catch {
    c.disconnect();
  }
}
