import type { Logger } from '../core/log.js';

// Events the outbox does not carry (it holds tag and manifest changes): pulls and quota refusals/warnings. The
// webhook dispatcher listens here; emitters never wait for listeners, so a push or pull is never slowed.

export type DirectEvent =
  | { type: 'PULL_ARTIFACT'; repository: string; digest: string; tag?: string; operator: string }
  | { type: 'QUOTA_EXCEED' | 'QUOTA_WARNING'; repository: string; digest: string; size: number; used: number; hard: number }
  | { type: 'REPLICATION'; repository: string; execution_id: number; policy_id: number; status: string; trigger: string };

export class GovernanceEvents {
  private readonly listeners: ((e: DirectEvent & { at: number }) => void)[] = [];

  constructor(private readonly log: Logger) {}

  on(listener: (e: DirectEvent & { at: number }) => void): void {
    this.listeners.push(listener);
  }

  /** True when someone listens (callers skip building events nobody reads). */
  get wanted(): boolean {
    return this.listeners.length > 0;
  }

  emit(event: DirectEvent): void {
    const e = { ...event, at: Date.now() };
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.warn({ err, type: event.type }, 'governance event listener');
      }
    }
  }
}
