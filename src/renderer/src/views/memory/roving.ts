/**
 * One tab stop for a list: Tab reaches the list once (its selected item, else the first), the arrow keys, Home and
 * End move between items. Items carry `data-roving`; the list's owner gives the current one tabIndex 0, the rest -1.
 */
import type { KeyboardEvent } from 'react';

export function rovingKeyDown(event: KeyboardEvent<HTMLElement>): void {
  if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key)) return;
  const items = [...event.currentTarget.querySelectorAll<HTMLElement>('[data-roving]')];
  if (items.length === 0) return;
  const at = items.indexOf(document.activeElement as HTMLElement);
  const next =
    event.key === 'Home' ? 0 : event.key === 'End' ? items.length - 1 : event.key === 'ArrowDown' ? Math.min(items.length - 1, at + 1) : Math.max(0, at - 1);
  event.preventDefault();
  items[next]!.focus();
}
