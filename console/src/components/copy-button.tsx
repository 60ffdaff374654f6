import { useState } from 'preact/hooks';

/** Copies `text`; says so for screen readers too. Falls back to selecting a hidden field where the Clipboard
 *  API is missing (plain http on another host is not a secure context). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<'' | 'copied' | 'failed'>('');
  const copy = async () => {
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
      else {
        const area = document.createElement('textarea');
        area.value = text;
        area.setAttribute('readonly', '');
        area.style.position = 'fixed';
        area.style.opacity = '0';
        document.body.appendChild(area);
        area.select();
        const ok = document.execCommand('copy');
        area.remove();
        if (!ok) throw new Error('copy refused');
      }
      setDone('copied');
    } catch {
      setDone('failed');
    }
    setTimeout(() => setDone(''), 2000);
  };
  return (
    <button type="button" class="copy" onClick={copy} aria-label={label} title={label}>
      {done === 'copied' ? 'Copied' : done === 'failed' ? 'Copy failed' : 'Copy'}
      <span class="visually-hidden" aria-live="polite">
        {done === 'copied' ? 'copied to the clipboard' : ''}
      </span>
    </button>
  );
}

/** A command or secret shown in full with its copy button. */
export function CopyField({ text, label }: { text: string; label: string }) {
  return (
    <div class="copy-field">
      <code>{text}</code>
      <CopyButton text={text} label={label} />
    </div>
  );
}
