/** Hash routing between the views, with the selection in the URL. */
import { useSyncExternalStore } from 'react';

/**
 * Hash routing (`#/agents`, `#/agents/<id>`, `#/messages/<threadId>`): the hub serves one page and needs no routes
 * of its own, and a view (with its selection) can be linked to, reloaded and navigated back to.
 */
export const VIEWS = ['overview', 'agents', 'connect', 'reservations', 'workflows', 'tasks', 'messages', 'memory', 'backup', 'performance', 'cluster', 'status'] as const;
export type ViewName = (typeof VIEWS)[number];

export interface Route {
  view: ViewName;
  /** The selection inside the view (an agent id, a thread id), if any. */
  param: string | null;
}

function parse(hash: string): Route {
  const [, view, ...rest] = hash.replace(/^#/, '').split('/');
  const known = VIEWS.find((name) => name === view);
  if (!known) return { view: 'overview', param: null };
  const param = rest.length > 0 ? decodeURIComponent(rest.join('/')) : null;
  return { view: known, param: param || null };
}

export function href(view: ViewName, param?: string | null): string {
  return `#/${view}${param ? `/${encodeURIComponent(param)}` : ''}`;
}

export function navigate(view: ViewName, param?: string | null): void {
  const next = href(view, param);
  if (window.location.hash !== next) window.location.hash = next;
}

const subscribe = (listener: () => void) => {
  window.addEventListener('hashchange', listener);
  return () => window.removeEventListener('hashchange', listener);
};
const getHash = () => window.location.hash;

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, getHash, getHash);
  return parse(hash);
}
