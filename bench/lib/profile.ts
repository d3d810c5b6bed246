/**
 * Reads a V8 CPU profile (node --cpu-prof) and lists where the time went: self time per function (the code that
 * was running) and total time (including what it called), top N.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  function: string;
  where: string;
  selfMs: number;
  selfPercent: number;
  totalMs: number;
  totalPercent: number;
}

export interface ProfileSummary {
  file: string;
  durationMs: number;
  /** Time the process was busy (not idle, not waiting in the event loop), ms. */
  busyMs: number;
  top: ProfileRow[];
}

function where(frame: ProfileNode['callFrame']): string {
  if (!frame.url) return '(native)';
  let url = frame.url.replace(/^file:\/\//, '');
  if (url.startsWith(repoRoot)) url = path.relative(repoRoot, url);
  url = url.replace(/^.*node_modules\//, 'node_modules/');
  return `${url}:${frame.lineNumber + 1}`;
}

export function summarizeProfile(file: string, topN = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const keyOf = (node: ProfileNode) => `${node.callFrame.functionName || '(anonymous)'}\u0000${where(node.callFrame)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busyUs = 0;
  let allUs = 0;

  // Total time per node (its own samples and its subtree's), then per function, counting a function once per
  // stack even when it recurses.
  const subtree = new Map<number, number>();
  const sizeOf = (id: number): number => {
    const cached = subtree.get(id);
    if (cached !== undefined) return cached;
    const node = byId.get(id)!;
    let sum = selfUs.get(id) ?? 0;
    for (const child of node.children ?? []) sum += sizeOf(child);
    subtree.set(id, sum);
    return sum;
  };
  const root = profile.nodes[0]!;
  const walk = (node: ProfileNode, active: Set<string>) => {
    const key = keyOf(node);
    const own = selfUs.get(node.id) ?? 0;
    allUs += own;
    const name = node.callFrame.functionName;
    const idle = name === '(idle)' || name === '(program)' || name === '(root)';
    if (!idle) busyUs += own;
    self.set(key, (self.get(key) ?? 0) + own);
    const fresh = !active.has(key);
    if (fresh) {
      total.set(key, (total.get(key) ?? 0) + sizeOf(node.id));
      active.add(key);
    }
    for (const child of node.children ?? []) walk(byId.get(child)!, active);
    if (fresh) active.delete(key);
  };
  walk(root, new Set());

  const rows = [...self.entries()]
    .filter(([key]) => !/^\((idle|program|root)\)/.test(key))
    .map(([key, us]) => {
      const [fn, at] = key.split('\u0000') as [string, string];
      const totalUs = total.get(key) ?? us;
      return {
        function: fn,
        where: at,
        selfMs: us / 1000,
        selfPercent: busyUs ? (us / busyUs) * 100 : 0,
        totalMs: totalUs / 1000,
        totalPercent: busyUs ? (totalUs / busyUs) * 100 : 0,
      };
    })
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topN);
  return { file, durationMs: allUs / 1000, busyMs: busyUs / 1000, top: rows };
}
