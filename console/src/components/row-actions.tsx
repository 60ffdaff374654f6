import type { ComponentChildren } from 'preact';

// A table row's action buttons that every list shares: the destructive one (Delete, Remove, Stop) and the
// Enable/Disable switch, each named after its row for screen readers (and the browser tests).

export function DangerButton({ label, onClick, children }: { label?: string; onClick: () => void; children: ComponentChildren }) {
  return (
    <button type="button" class="danger" aria-label={label} onClick={onClick}>
      {children}
    </button>
  );
}

/** Says what it will do: "Disable" while enabled. With `name`, its accessible name is "Disable <name>". */
export function EnableToggle({ enabled, name, onClick }: { enabled: boolean; name?: string; onClick: () => void }) {
  const verb = enabled ? 'Disable' : 'Enable';
  return (
    <button type="button" aria-label={name === undefined ? undefined : `${verb} ${name}`} onClick={onClick}>
      {verb}
    </button>
  );
}
