import type { ComponentChildren } from 'preact';
import { onLinkClick } from '../router';

export function Link({ href, children, current }: { href: string; children: ComponentChildren; current?: boolean }) {
  return (
    <a href={href} onClick={onLinkClick} {...(current && { 'aria-current': 'page' })}>
      {children}
    </a>
  );
}
