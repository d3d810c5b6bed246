/** The memory benchmark's output: phase lines, detail tables and the summary rows with their targets. */
import { fmt, fmtBytes, printTable, type SummaryRow } from '../lib/table';
import type { Options } from './options';
import type { Results, StorePhase } from './results';

export function logStore(what: string, p: StorePhase): void {
  console.log(
    `[${what}] ${p.memories.toLocaleString('en-US')} memories in ${p.requests.toLocaleString('en-US')} requests, ${fmt(p.wallMs / 1000)} s: ` +
      `${fmt(p.perSecond)} memories/s; request p50 ${fmt(p.latency.p50)} ms, p99 ${fmt(p.latency.p99)} ms` +
      (p.memoriesPerEmbedRun !== null ? `; ${fmt(p.memoriesPerEmbedRun)} memories per ONNX run` : '') +
      (p.reinforced ? `; ${p.reinforced} reinforced instead of created` : '') +
      (p.superseding ? `; ${p.superseding} superseded an older value` : ''),
  );
}

function mib(bytes: number | undefined): string | null {
  return bytes === undefined || !Number.isFinite(bytes) ? null : fmtBytes(bytes);
}

export function printDetails(r: Results): void {
  const storeRow = (name: string, p: StorePhase | undefined) =>
    p
      ? [
          name,
          p.memories,
          p.requests,
          p.wallMs / 1000,
          p.perSecond,
          p.latency.p50,
          p.latency.p99,
          p.latency.max,
          p.memoriesPerEmbedRun,
          p.embedMs === null ? null : `${fmt((p.embedMs / p.wallMs) * 100)}%`,
          `${p.reinforced} / ${p.superseding ?? 0}`,
          `${p.cpuPercent.hub ?? '?'}% / ${p.cpuPercent.others ?? '?'}%`,
          p.hubCpuMsPerMemory ? `${fmt(p.hubCpuMsPerMemory.total)} (${fmt(p.hubCpuMsPerMemory.main)} + ${fmt(p.hubCpuMsPerMemory.others)}: ${p.hubCpuMsPerMemory.busiestOthers.map((ms) => fmt(ms)).join(' ')})` : null,
          p.load1,
        ]
      : [name, 'not run'];
  printTable(
    'Stores (client round trips over HTTP, embedding included)',
    ['phase', 'memories', 'requests', 'wall s', 'memories/s', 'p50 ms', 'p99 ms', 'max ms', 'per ONNX run', 'embedding share', 'reinforced / supersedes', 'CPU hub / others', 'hub CPU ms per memory (main + other threads: busiest others)', 'load 1m'],
    [
      storeRow('single, empty engine', r.single),
      storeRow(`concurrent singles (${r.options.clients} in flight)`, r.concurrent),
      storeRow(`batched ${r.options.batchMin}–${r.options.batchMax} (${r.options.batchInflight} in flight)`, r.batched),
      storeRow(`single, at ${fmt(r.search?.memories ?? r.options.memories)}`, r.singleAtScale),
    ],
  );
  if (r.batched) {
    printTable(
      'Batched load by stretch (exact index below 20,000; IVF builds in the background at 20k, 40k, 80k)',
      ['from', 'to', 'seconds', 'memories/s'],
      r.batched.segments.map((s) => [s.from, s.to, s.seconds, s.perSecond]),
    );
  }
  if (r.search) {
    const s = r.search;
    printTable(
      `Search at ${fmt(s.memories)} memories, k=${s.k}, one in flight (query embedding included)`,
      ['measured at', 'queries', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'hits/query', 'hits from vector / keyword side', 'CPU hub / others', 'load 1m'],
      [
        ['client (HTTP round trip)', s.queries, s.latency.p50, s.latency.p90, s.latency.p99, s.latency.max, s.hitsPerQuery, `${fmt(s.vectorShare * 100)}% / ${fmt(s.keywordShare * 100)}%`, `${s.cpuPercent.hub ?? '?'}% / ${s.cpuPercent.others ?? '?'}%`, s.load1],
        ['hub (tookMs)', s.queries, s.hubTookMs.p50, s.hubTookMs.p90, s.hubTookMs.p99, s.hubTookMs.max, null, null, null, null],
      ],
    );
  }
  printTable('Hub', ['what', 'value'], [
    ['memory engine ready after start', r.hub.startMs === undefined ? null : `${fmt(r.hub.startMs)} ms`],
    ['encoder', r.hub.encoder ? `${r.hub.encoder} (${r.hub.dimension}-d)` : null],
    ['IVF ready after the load', r.ivf ? `${fmt(r.ivf.waitedMs / 1000)} s (${r.ivf.kind}, ${r.ivf.size} vectors${r.ivf.timedOut ? ', timed out' : ''})` : null],
    ['final stats', r.finalStats ? `${r.finalStats.total} memories, ${r.finalStats.index.kind} index of ${r.finalStats.index.size}, ${r.finalStats.index.tombstones} tombstones` : null],
    ['RSS after load / after IVF / after search', [mib(r.rss.afterLoad), mib(r.rss.afterIvf), mib(r.rss.afterSearch)].map((v) => v ?? '—').join(' / ')],
    ['peak RSS (VmHWM)', mib(r.rss.peak)],
    ['recall@10 of the saved index vs exact', r.recall ? `${fmt(r.recall.recallAt10)} over ${r.recall.queries} queries (${r.recall.indexKind}, nlist ${r.recall.nlist ?? '—'}, nprobe ${r.recall.nprobe ?? '—'}, estimated at build ${r.recall.estimatedRecall === undefined ? '—' : fmt(r.recall.estimatedRecall)})` : null],
    [
      'near-duplicate check (edited copies of stored notes, neighbours at cosine >= 0.95)',
      r.recall
        ? (({ queries, pairs, close, faiss } = r.recall.nearDuplicates) =>
            `${queries} copies, ${pairs} pairs: int8 scan of the nearest lists found ${close.found} (${fmt(close.msPerQuery)} ms/copy), FAISS IVF found ${faiss.found} (${fmt(faiss.msPerQuery)} ms/copy)`)()
        : null,
    ],
  ]);
  for (const [name, error] of Object.entries(r.errors)) console.log(`\nERROR in ${name}: ${error.split('\n')[0]}`);
}

export function summaryRows(o: Options, r: Results): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const verdict = (ok: boolean): SummaryRow['verdict'] => (ok ? 'PASS' : 'FAIL');
  const missing = (name: string): SummaryRow['verdict'] => (r.errors[name] ? 'ERROR' : 'not run');
  const n = fmt(r.search?.memories ?? o.memories);

  rows.push(
    r.single
      ? { metric: 'store one, embedding included, empty engine (p50; old 27 ms)', target: '<= 5 ms', measured: `p50 ${fmt(r.single.latency.p50)} ms, p99 ${fmt(r.single.latency.p99)} ms`, verdict: verdict(r.single.latency.p50 <= 5) }
      : { metric: 'store one, empty engine', target: '<= 5 ms', measured: '—', verdict: missing('single') },
  );
  rows.push(
    r.singleAtScale
      ? { metric: `store one, embedding included, at ${n} memories (p50)`, target: '<= 5 ms', measured: `p50 ${fmt(r.singleAtScale.latency.p50)} ms, p99 ${fmt(r.singleAtScale.latency.p99)} ms`, verdict: verdict(r.singleAtScale.latency.p50 <= 5) }
      : { metric: `store one at ${n} memories`, target: '<= 5 ms', measured: '—', verdict: missing('single-at-scale') },
  );
  rows.push(
    r.batched
      ? { metric: `batched store (${o.batchMin}–${o.batchMax} per request) to ${fmt(o.memories)}`, target: '>= 1,000 memories/s', measured: `${fmt(r.batched.perSecond)} memories/s`, verdict: verdict(r.batched.perSecond >= 1000) }
      : { metric: 'batched store', target: '>= 1,000 memories/s', measured: '—', verdict: missing('batched') },
  );
  rows.push(
    r.concurrent
      ? {
          metric: `concurrent single stores (${o.clients} in flight, grouped)`,
          target: '>= 1,000 memories/s',
          measured: `${fmt(r.concurrent.perSecond)} memories/s${r.concurrent.memoriesPerEmbedRun !== null ? `, ${fmt(r.concurrent.memoriesPerEmbedRun)} per ONNX run` : ''}`,
          verdict: verdict(r.concurrent.perSecond >= 1000),
        }
      : { metric: 'concurrent single stores', target: '>= 1,000 memories/s', measured: '—', verdict: missing('concurrent') },
  );
  if (r.search) {
    const s = r.search;
    rows.push({ metric: `search at ${n} memories, IVF, query embedding included: p50 (old 8 s)`, target: '<= 10 ms', measured: `${fmt(s.latency.p50)} ms`, verdict: verdict(s.latency.p50 <= 10 && !r.ivf?.timedOut) });
    rows.push({ metric: `search at ${n} memories: p99`, target: '<= 50 ms', measured: `${fmt(s.latency.p99)} ms`, verdict: verdict(s.latency.p99 <= 50 && !r.ivf?.timedOut) });
  } else {
    rows.push({ metric: `search at ${n} memories: p50 / p99`, target: '<= 10 ms / <= 50 ms', measured: '—', verdict: missing('search') });
  }
  rows.push({ metric: `time to load ${n} memories (all store phases)`, target: 'info', measured: r.loadSeconds === undefined ? '—' : `${fmt(r.loadSeconds)} s`, verdict: 'info' });
  rows.push({ metric: 'IVF ready after the load', target: 'info', measured: r.ivf ? `${fmt(r.ivf.waitedMs / 1000)} s${r.ivf.timedOut ? ' (timed out)' : ''}` : '—', verdict: r.ivf?.timedOut ? 'FAIL' : 'info' });
  rows.push({ metric: 'recall@10, vector side vs exact', target: 'info (aims 0.95)', measured: r.recall ? fmt(r.recall.recallAt10) : '—', verdict: r.recall ? 'info' : missing('recall') });
  const near = r.recall?.nearDuplicates;
  rows.push({
    metric: 'near-duplicate check: neighbours at cosine >= 0.95 found',
    target: 'info',
    measured: near ? `${fmt(near.close.found / Math.max(1, near.pairs))} (FAISS IVF ${fmt(near.faiss.found / Math.max(1, near.pairs))}), ${fmt(near.close.msPerQuery)} vs ${fmt(near.faiss.msPerQuery)} ms` : '—',
    verdict: near ? 'info' : missing('recall'),
  });
  rows.push({ metric: `hub RSS at ${n} (after search) / peak`, target: 'info', measured: `${mib(r.rss.afterSearch) ?? '—'} / ${mib(r.rss.peak) ?? '—'}`, verdict: 'info' });
  return rows;
}
