/**
 * Extraction quality on the labelled set (test/extract/fixtures/labelled/: issue threads, READMEs, logs, changelogs,
 * design records, meeting notes and a chat): precision and recall per kind on the tuning half and the report half,
 * with the real sentence encoder.
 *
 *   node --import tsx bench/extract-quality.ts [--details] [--half tuning|report]
 *   npm run bench -- extract-quality [--details] [--half tuning|report]
 *
 * Prints a table per half (and with --details what each document missed or got wrong); writes
 * bench/results/extract-quality-<ts>.json.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { OnnxSentenceEncoder, ensureDefaultEncoder } from '../src/main/embedding';
import { scoreHalf, type HalfScore } from '../test/extract/labelled-set';
import { machineFacts, machineLine } from './lib/machine';
import { repoRoot } from './lib/paths';
import { writeResults } from './lib/results';
import { printTable } from './lib/table';

export const description = 'extraction precision and recall per kind on the labelled documents (tuning and report halves): [--details] [--half tuning|report]';

const percent = (x: number) => `${(100 * x).toFixed(0)}%`;

function print(score: HalfScore, details: boolean): void {
  printTable(
    `${score.half} half (${score.documents} documents)`,
    ['kind', 'expected', 'extracted', 'correct', 'precision', 'recall'],
    [...score.kinds, score.all].map((k) => [k.kind, k.expected, k.extracted, k.correct, percent(k.precision), percent(k.recall)]),
  );
  if (!details) return;
  for (const d of score.details) {
    if (d.missed.length === 0 && d.unexpected.length === 0) continue;
    console.log(`\n  ${d.document}`);
    for (const m of d.missed) console.log(`    missed ${m.kind}: ${m.match?.join(' + ') ?? m.command ?? m.path ?? m.url}`);
    for (const u of d.unexpected) console.log(`    wrong  ${u.kind}: ${JSON.stringify(u.text)}`);
  }
}

export async function run(details = false, halves: Array<'tuning' | 'report'> = ['tuning', 'report']): Promise<void> {
  const machine = machineFacts();
  console.log(`Extraction quality on the labelled set — ${machineLine(machine)}`);
  const encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(path.join(repoRoot, 'resources')));
  try {
    const embed = (texts: string[]) => encoder.embed(texts);
    const scores: Partial<Record<'tuning' | 'report', HalfScore>> = {};
    for (const half of halves) {
      scores[half] = await scoreHalf(half, embed);
      print(scores[half], details);
    }
    const file = writeResults('extract-quality', { benchmark: 'extract-quality', machine, encoder: encoder.id, ...scores });
    console.log(`\nResults: ${path.relative(repoRoot, file)}`);
  } finally {
    await encoder.close();
  }
}

/** The bench/run.ts suite: `npm run bench -- extract-quality [--details]`. */
export const suite = {
  description,
  async run(argv: string[]): Promise<number> {
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(`extract-quality: ${description}`);
      return 0;
    }
    const half = argv.includes('--half') ? argv[argv.indexOf('--half') + 1] : undefined;
    await run(argv.includes('--details'), half === 'tuning' || half === 'report' ? [half] : undefined);
    return 0;
  },
};

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await suite.run(process.argv.slice(2));
}
