/**
 * Memory search against the vector index: a flat (exact) index grown past where IVF pays, an IVF index grown well
 * past what it was trained on or tuned below its recall target (retrain: nprobe is re-tuned with it), and tombstones
 * that make every search oversample (compact). Fixes rebuild the index in the background (a child process trains
 * it) while the current one keeps answering.
 */
import type { AdviceEvidence, FixFigure } from '../../../shared/advice-protocol';
import type { MemoryStore } from '../../memory/store';
import { count, duration } from './format';
import type { Finding, RuleContext } from './rule';

/** A rough cost of an IVF build in the child (train, add, tune): ~1/3 ms per vector on this kind of machine. */
const BUILD_MS_PER_VECTOR = 1 / 3;
/** The recall the index's nprobe tuning aims at (tuning.ts targetRecall); well below it, nprobe is stale. */
const TARGET_RECALL = 0.975;
const RECALL_SLACK = 0.03;
const MIN_TOMBSTONES = 100;

export function searchRules({ hub, settings, measurements }: RuleContext): Finding[] {
  const store = hub.memory.openedStore();
  if (!store) return [];
  const stats = store.indexStats();
  // A build under way is already the fix; its progress shows in the hub's status.
  if (stats.building) return [];
  const now = new Date().toISOString();
  const recent = measurements.recentLatency('search');
  const slow = recent !== null && recent.p99Ms >= settings.searchP99Ms;
  const latency: AdviceEvidence[] = recent ? [{ label: 'search p99 (last 5 min)', value: recent.p99Ms, unit: 'ms', since: recent.since }] : [];
  const size: AdviceEvidence = { label: 'vectors in the index', value: stats.size, unit: 'vectors', since: now };
  const findings: Finding[] = [];
  const estimatedMs = Math.max(1000, stats.size * BUILD_MS_PER_VECTOR);
  const rebuild = () => async (): Promise<FixFigure[]> => {
    const before = { probe: store.probeIndexSearchMs(), stats: store.indexStats() };
    await store.rebuildIndex();
    measurements.resetLatency('search');
    return figures(store, before);
  };

  if (stats.kind === 'flat' && stats.size >= settings.flatIndexVectors) {
    const { ivfThreshold } = store.indexTuning();
    const canBuild = stats.size >= ivfThreshold;
    findings.push({
      advice: {
        id: 'search-latency.flat',
        rule: 'search-latency',
        severity: slow ? 'warning' : 'info',
        title: `${slow ? `search p99 ${duration(recent!.p99Ms)}: ` : ''}every search scans all ${count(stats.size)} vectors (flat index)`,
        evidence: [...latency, size, { label: 'IVF threshold (memory.index.ivfThreshold)', value: ivfThreshold, unit: 'vectors', since: null }],
        suggestion: canBuild
          ? `build the IVF index (est. ${duration(estimatedMs)}, in the background; searches keep answering meanwhile)`
          : `set memory.index.ivfThreshold to ${count(stats.size)} or less in config.json and restart, so the index is built as IVF`,
        fix: canBuild ? { kind: 'retrain-index', label: 'Build the IVF index', estimatedCost: `about ${duration(estimatedMs)} in a background process`, estimatedMs, safe: false } : null,
      },
      apply: canBuild ? rebuild() : undefined,
    });
  }

  if (stats.kind === 'ivf' && stats.trainedOn) {
    const grown = stats.size >= settings.ivfGrowth * stats.trainedOn;
    const stale = stats.recall !== undefined && stats.recall < TARGET_RECALL - RECALL_SLACK;
    if ((grown && slow) || stale) {
      findings.push({
        advice: {
          id: 'search-latency.ivf',
          rule: 'search-latency',
          severity: slow ? 'warning' : 'info',
          title: grown
            ? `${slow ? `search p99 ${duration(recent!.p99Ms)} since the` : 'the'} index reached ${count(stats.size)} vectors (trained on ${count(stats.trainedOn)})`
            : `the IVF index's recall is ${stats.recall!.toFixed(3)} at nprobe ${stats.nprobe} (target ${TARGET_RECALL})`,
          evidence: [
            ...latency,
            size,
            { label: 'trained on', value: stats.trainedOn, unit: 'vectors', since: stats.trainedAt ?? null },
            ...(stats.nprobe !== undefined ? [{ label: 'nprobe', value: stats.nprobe, unit: 'count' as const, since: stats.trainedAt ?? null }] : []),
          ],
          suggestion: `retrain the IVF index and re-tune nprobe (est. ${duration(estimatedMs)}, in the background)`,
          fix: { kind: 'retrain-index', label: 'Retrain the index', estimatedCost: `about ${duration(estimatedMs)} in a background process`, estimatedMs, safe: false },
        },
        apply: rebuild(),
      });
    }
  }

  const share = stats.positions > 0 ? stats.tombstones / stats.positions : 0;
  if (stats.tombstones >= MIN_TOMBSTONES && share >= settings.tombstoneShare) {
    findings.push({
      advice: {
        id: 'index-compaction',
        rule: 'index-compaction',
        severity: 'info',
        title: `${Math.round(share * 100)}% of the vector index is deleted or replaced memories (${count(stats.tombstones)})`,
        evidence: [
          { label: 'tombstones', value: stats.tombstones, unit: 'vectors', since: now },
          { label: 'share of the index', value: share * 100, unit: 'percent', since: now },
        ],
        suggestion: `compact the index: every search oversamples past the tombstones meanwhile (est. ${duration(estimatedMs)})`,
        fix: { kind: 'compact-index', label: 'Compact the index', estimatedCost: `about ${duration(estimatedMs)} in the background`, estimatedMs, safe: false },
      },
      apply: rebuild(),
    });
  }
  return findings;
}

function figures(store: MemoryStore, before: { probe: number; stats: ReturnType<MemoryStore['indexStats']> }): FixFigure[] {
  const after = store.indexStats();
  return [
    { label: 'index search median (20 stored vectors as queries)', before: before.probe, after: store.probeIndexSearchMs(), unit: 'ms' },
    { label: 'IVF (1) or flat (0)', before: before.stats.kind === 'ivf' ? 1 : 0, after: after.kind === 'ivf' ? 1 : 0, unit: 'count' },
    { label: 'tombstones', before: before.stats.tombstones, after: after.tombstones, unit: 'vectors' },
    { label: 'index memory', before: before.stats.bytes, after: after.bytes, unit: 'bytes' },
  ];
}
