import type { ComponentChildren } from 'preact';

/** An error (announced to screen readers) or nothing. */
export function ErrorNote({ error }: { error?: Error | string | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {typeof error === 'string' ? error : error.message}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

const statusClass: Record<string, string> = {
  Succeed: 'ok',
  Success: 'ok',
  InProgress: 'busy',
  Running: 'busy',
  Pending: 'busy',
  Failed: 'bad',
  Error: 'bad',
  Stopped: 'muted',
};

export function Status({ value }: { value: string }) {
  return <span class={`status ${statusClass[value] ?? 'muted'}`}>{value}</span>;
}
