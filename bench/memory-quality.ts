/**
 * Retrieval quality bench: `npm run bench -- memory-quality [--notes N] [--verbose]`. Loads the labelled
 * notes among ~2,400 notes into a real memory store (SQLite, FAISS, the built-in ONNX encoder), asks every labelled
 * question and prints first place / top 5 / identifier / no-answer figures per half, plus a JSON file in
 * bench/results. Tune on the `tune` half only; the `report` half is what gets reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OnnxSentenceEncoder, ensureDefaultEncoder } from '../src/main/embedding';
import { MemoryStore } from '../src/main/memory/store';
import { machineFacts, machineLine } from './lib/machine';
import {
  askAll,
  distractorNotes,
  figures,
  loadNotes,
  loadQualitySet,
  QUALITY_TARGETS,
  share,
  type HalfFigures,
  type QuestionOutcome,
} from './lib/memory-quality';
import { repoRoot } from './lib/paths';
import { weakCalibration } from './lib/weak-calibration';
import { writeResults } from './lib/results';
import { printTable } from './lib/table';

export const description = 'retrieval quality on the labelled set (tune and report halves) among ~2,400 notes';
const TOTAL_NOTES = 2400;

export const suite = {
  description,
  async run(argv: string[]): Promise<number> {
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(`memory-quality: ${description}\n  --notes N   notes in all, labelled and distractors (${TOTAL_NOTES})\n  --verbose         list every miss of the tune half\n  --calibrate       the weak flag's calibration data, tune half only\n  --tune-only       ask the tune half only (while tuning: the report half is measured once, at the end)`);
      return 0;
    }
    const i = argv.indexOf('--notes');
    const notes = i >= 0 ? Number(argv[i + 1]) : undefined;
    const tuneOnly = argv.includes('--tune-only');
    const { report } = await measureQuality({ notes, verbose: argv.includes('--verbose'), calibrate: argv.includes('--calibrate'), tuneOnly });
    if (tuneOnly) return 0;
    const met =
      share(report.first, report.answerable) >= QUALITY_TARGETS.first &&
      share(report.top5, report.answerable) >= QUALITY_TARGETS.top5 &&
      share(report.identifier.first, report.identifier.questions) >= QUALITY_TARGETS.identifierFirst &&
      share(report.none.recognised, report.none.questions) >= QUALITY_TARGETS.noneRecognised;
    return met ? 0 : 1;
  },
};

export async function measureQuality(
  options: { notes?: number; verbose?: boolean; calibrate?: boolean; tuneOnly?: boolean } = {},
): Promise<{ tune: HalfFigures; report: HalfFigures; outcomes: QuestionOutcome[] }> {
  const machine = machineFacts();
  console.log(`Memory retrieval quality — ${machineLine(machine)}`);
  const whole = loadQualitySet();
  const set = options.tuneOnly ? { ...whole, questions: whole.questions.filter((q) => q.half === 'tune') } : whole;
  const total = options.notes ?? TOTAL_NOTES;
  const extra = distractorNotes(set, total * 2);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'memory-quality-'));
  const encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(path.join(repoRoot, 'resources')), { threads: Math.min(2, os.availableParallelism()) });
  const store = await MemoryStore.open({ dataDir, encoder, halfLifeDays: 30, dedupeSimilarity: 0.95 });
  try {
    const loadStarted = performance.now();
    const ids = await loadNotes(store, set.notes, extra, total);
    const stored = store.stats().total;
    console.log(`${stored} notes stored (${set.notes.length} labelled) in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);
    const outcomes = await askAll(store, set, ids);
    const tune = figures(outcomes, 'tune');
    const report = figures(outcomes, 'report');
    printFigures(`Retrieval quality at ${stored} notes (k = 10)`, { tune, report });
    if (options.verbose) {
      for (const o of outcomes.filter((x) => x.half === 'tune' && (x.kind === 'none' ? !x.weak : x.rank !== 1 || x.weak))) {
        console.log(`[${o.kind}] ${o.q} -> expected ${o.expect ?? '(none)'} at ${o.rank ?? '-'} (vec ${o.expected?.vectorSimilarity?.toFixed(3) ?? '-'} r${o.expected?.vectorRank ?? '-'}); top ${o.top?.key} vec ${o.top?.vectorSimilarity?.toFixed(3)} kw ${o.top?.keywordScore?.toFixed(3)}${o.weak ? ' weak' : ''}`);
      }
    }
    if (options.calibrate) await weakCalibration(store, set, ids);
    const file = writeResults('memory-quality', { machine, notes: stored, labelledNotes: set.notes.length, targets: QUALITY_TARGETS, tune, report, outcomes });
    console.log(`\nresults: ${file}`);
    return { tune, report, outcomes };
  } finally {
    await store.close();
    await encoder.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function percent(part: number, whole: number): string {
  return `${((100 * part) / Math.max(1, whole)).toFixed(1)}% (${part}/${whole})`;
}

export function printFigures(title: string, halves: { tune: HalfFigures; report: HalfFigures }): void {
  // A tune-only run (--tune-only) has no report half to show.
  const withReport = halves.report.questions > 0;
  const row = (name: string, target: string, get: (f: HalfFigures) => string) => [name, target, get(halves.tune), ...(withReport ? [get(halves.report)] : [])];
  printTable(title, ['measure', 'target (report)', 'tune half', ...(withReport ? ['report half'] : [])], [
    row('answerable: right note first', '>= 75%', (f) => percent(f.first, f.answerable)),
    row('answerable: in the top 5', '>= 90%', (f) => percent(f.top5, f.answerable)),
    row('paraphrased: first', '', (f) => percent(f.paraphrase.first, f.paraphrase.questions)),
    row('paraphrased: top 5', '', (f) => percent(f.paraphrase.top5, f.paraphrase.questions)),
    row('identifier lookups: first', '>= 95%', (f) => percent(f.identifier.first, f.identifier.questions)),
    row('no answer: first hit weak (or none)', '>= 80%', (f) => percent(f.none.recognised, f.none.questions)),
    row('  of them written with the set', '', (f) => percent(f.noneOriginal.recognised, f.noneOriginal.questions)),
    row('  of them added after the split', '', (f) => percent(f.noneAdded.recognised, f.noneAdded.questions)),
    row('answerable, right first hit flagged weak', 'info', (f) => percent(f.falseWeak, f.answerable)),
  ]);
}
