import { useState } from 'preact/hooks';
import { text } from '../api';

/** A "Log" button that fetches a plain-text job or task log and shows it below, until pressed again. */
export function LogView({ path, label }: { path: string; label: string }) {
  const [log, setLog] = useState<string | null>(null);
  const toggle = async () => {
    if (log !== null) return setLog(null);
    setLog(await text(path).catch((e: Error) => `(no log: ${e.message})`));
  };
  return (
    <>
      <button type="button" aria-expanded={log !== null} aria-label={label} onClick={toggle}>
        {log === null ? 'Log' : 'Hide log'}
      </button>
      {log !== null && (
        <pre class="log" aria-label={label} tabIndex={0}>
          {log || '(empty)'}
        </pre>
      )}
    </>
  );
}
