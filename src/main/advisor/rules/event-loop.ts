/**
 * The event loop and the process: stalls (the loop held for stallMs or more, with when and what ran), time spent in
 * garbage collection, and the V8 heap close to its limit (with what each service holds).
 */
import v8 from 'node:v8';
import { bytes, clock, count, duration } from './format';
import type { Finding, RuleContext } from './rule';

export function eventLoopRules({ settings, measurements }: RuleContext): Finding[] {
  const stalls = measurements.recentStalls(settings.stallMinutes);
  if (stalls.length === 0) return [];
  const longest = stalls.reduce((most, stall) => (stall.durationMs > most.durationMs ? stall : most));
  const during = longest.during.length > 0 ? ` during ${longest.during.join(', ')}` : '';
  return [
    {
      advice: {
        id: 'event-loop-stall',
        rule: 'event-loop-stall',
        severity: longest.durationMs >= 1000 ? 'critical' : 'warning',
        title: `the event loop stalled ${duration(longest.durationMs)} at ${clock(longest.at)}${during}`,
        evidence: [
          { label: 'longest stall', value: longest.durationMs, unit: 'ms', since: longest.at },
          { label: `stalls of ${settings.stallMs} ms or more (last ${settings.stallMinutes} min)`, value: stalls.length, unit: 'count', since: stalls.at(-1)!.at },
          ...stalls.slice(0, 5).map((stall) => ({
            label: `stall${stall.during.length ? ` during ${stall.during.join(', ')}` : ' (no timed operation ran)'}`,
            value: stall.durationMs,
            unit: 'ms' as const,
            since: stall.at,
          })),
        ],
        suggestion:
          'every agent waited that long for an answer. If it happens again, take a CPU profile while it does (below) to see what ran; ' +
          'large documents and bodies are meant to be handled off the loop, so a stall during one is worth reporting',
        fix: null,
      },
    },
  ];
}

export function processRules({ hub, settings, measurements }: RuleContext): Finding[] {
  const findings: Finding[] = [];
  const now = new Date().toISOString();
  const gc = measurements.gc();
  if (gc.share >= settings.gcShare) {
    findings.push({
      advice: {
        id: 'gc-pressure',
        rule: 'gc-pressure',
        severity: gc.share >= 2 * settings.gcShare ? 'critical' : 'warning',
        title: `garbage collection took ${Math.round(gc.share * 100)}% of the last minute`,
        evidence: [
          { label: 'time in GC (last minute)', value: gc.share * 100, unit: 'percent', since: now },
          { label: 'collections (last minute)', value: gc.count, unit: 'count', since: now },
          { label: 'major collections', value: gc.major, unit: 'count', since: now },
          { label: 'longest pause', value: gc.longestMs, unit: 'ms', since: now },
        ],
        suggestion: 'the hub allocates faster than it frees: take a heap snapshot to see what holds memory, or a CPU profile to see what allocates',
        fix: null,
      },
    });
  }
  const heap = v8.getHeapStatistics();
  const share = heap.used_heap_size / heap.heap_size_limit;
  if (share >= settings.heapShare) {
    const memory = process.memoryUsage();
    const index = hub.memory.openedStore()?.indexStats();
    findings.push({
      advice: {
        id: 'heap-usage',
        rule: 'heap-usage',
        severity: share >= (1 + settings.heapShare) / 2 ? 'critical' : 'warning',
        title: `the V8 heap is ${Math.round(share * 100)}% of its limit (${bytes(heap.used_heap_size)} of ${bytes(heap.heap_size_limit)})`,
        evidence: [
          { label: 'heap used', value: heap.used_heap_size, unit: 'bytes', since: now },
          { label: 'heap limit', value: heap.heap_size_limit, unit: 'bytes', since: null },
          { label: 'resident memory', value: memory.rss, unit: 'bytes', since: now },
          ...(index ? [{ label: `memory: vector index (${count(index.size)} vectors)`, value: index.bytes, unit: 'bytes' as const, since: now }] : []),
          { label: 'buffers outside the heap', value: memory.arrayBuffers, unit: 'bytes', since: now },
        ],
        suggestion: 'take a heap snapshot to see what holds the heap; the hub stops when the heap reaches its limit',
        fix: null,
      },
    });
  }
  return findings;
}
