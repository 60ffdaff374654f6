import type { Digest } from '../core/digest.js';
import { AlreadyCached, type Agent } from './agent.js';

// The seed role: long-polls the origin for preheat tasks and pulls each task's blobs through the swarm, so that
// when the nodes come the image is already spread over seed agents (and the origin sent it about once).

interface PreheatTask {
  id: number;
  repository: string;
  tag: string;
  blobs: { digest: Digest; size: number }[];
  createdAt: number;
}

/** On start, tasks at most this old are still worth doing (a seed agent restarted in the middle of a rollout). */
const catchUpMs = 10 * 60 * 1000;

export class PreheatWorker {
  private stopped = false;
  private after: number | undefined;
  private readonly authorization: string | undefined;

  constructor(private readonly agent: Agent) {
    const { agent_username: user, agent_password: password } = agent.config;
    this.authorization = user !== undefined ? `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}` : undefined;
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const q = this.after === undefined ? 'wait=0&after=0' : `wait=25&after=${this.after}`;
        const page = await this.agent.origin.getJson<{ tasks: PreheatTask[]; last: number }>(`/p2p/v1/preheat/tasks?${q}`, this.authorization, 35_000);
        const first = this.after === undefined;
        this.after = Math.max(this.after ?? 0, page.last);
        for (const task of page.tasks) {
          // Older tasks are history, not ours to replay.
          if (first && Date.now() - task.createdAt > catchUpMs) continue;
          await this.run(task);
        }
      } catch (err) {
        if (this.stopped) return;
        this.agent.log.warn({ err }, 'preheat: polling the origin failed');
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
  }

  private async run(task: PreheatTask): Promise<void> {
    this.agent.log.info({ repository: task.repository, tag: task.tag, blobs: task.blobs.length }, 'preheat: fetching');
    let fetched = 0;
    let failed = 0;
    for (const b of task.blobs) {
      if (this.stopped) return;
      // Small blobs are not spread through the swarm (nodes get them from the origin): nothing to do for them.
      if (b.size < this.agent.config.agent_p2p_min_bytes || this.agent.cache.has(b.digest)) {
        fetched++;
        continue;
      }
      try {
        const download = await this.agent.download(task.repository, b.digest, b.size, this.authorization);
        await download.done;
        fetched++;
      } catch (err) {
        if (err instanceof AlreadyCached) {
          fetched++;
          continue;
        }
        failed++;
        this.agent.log.warn({ err, digest: b.digest }, 'preheat: blob failed');
      }
    }
    // The origin shows it as the task's result (Harbor's preheat executions); a lost report only leaves it running.
    const status = await this.agent.origin
      .postJson(`/p2p/v1/preheat/tasks/${task.id}/result`, { peer: this.agent.peerId.toString('hex'), fetched, failed }, this.authorization, 10_000)
      .catch(() => 0);
    if (status !== 204) this.agent.log.warn({ task: task.id, status }, 'preheat: the origin did not take the report');
  }
}
