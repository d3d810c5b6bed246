/**
 * Benchmarks: `npm run bench -- <suite> [options]`. Each suite prints tables and writes its results to
 * bench/results/<suite>-<timestamp>.json. Benchmarks measure; they are not tests and never run in CI's test step.
 */
import { summarizeProfile } from './lib/profile';
import { printTable } from './lib/table';

interface Suite {
  description: string;
  /** Resolves to the exit code (non-zero: a target was missed or a phase failed); void means 0. */
  run(argv: string[]): Promise<number | void>;
}

const suites: Record<string, () => Promise<Suite>> = {
  hub: () => import('./hub'),
  a2a: () => import('./a2a'),
  soak: () => import('./soak'),
  mcp: () => import('./mcp'),
  store: () => import('./store'),
  memory: async () => (await import('./memory/suite')).suite,
  'memory-quality': async () => (await import('./memory-quality')).suite,
  'memory-keyword': async () => (await import('./memory-keyword')).suite,
  'memory-topics': async () => (await import('./memory-topics')).suite,
  vector: async () => {
    const { run } = await import('./vector');
    return {
      description: 'vector index on synthetic 512-d data at 10k/100k/1M (env VECTOR_BENCH_SIZES, VECTOR_BENCH_QUERIES)',
      async run(argv) {
        if (argv.includes('--help') || argv.includes('-h')) {
          console.log('vector: sizes and query count come from VECTOR_BENCH_SIZES=10000,100000 and VECTOR_BENCH_QUERIES=300');
          return 0;
        }
        await run();
        return 0;
      },
    };
  },
  extract: async () => (await import('./extract')).suite,
  'extract-quality': async () => (await import('./extract-quality')).suite,
  'extract-load': async () => (await import('./extract-load')).suite,
  backup: () => import('./backup'),
  reservations: async () => (await import('./reservations')).suite,
  attention: async () => (await import('./attention')).suite,
  tasks: async () => (await import('./tasks')).suite,
  'workflow-definitions': async () => (await import('./workflow-definitions')).suite,
  workflows: async () => (await import('./workflows')).suite,
  cluster: async () => (await import('./cluster/suite')).suite,
  profile: async () => ({
    description: 'summarise a V8 .cpuprofile (top self-time functions): profile FILE [TOP]',
    async run([file, top]) {
      if (!file) throw new Error('usage: npm run bench -- profile FILE.cpuprofile [TOP]');
      const summary = summarizeProfile(file, Number(top ?? 30));
      printTable(
        `${file}: ${summary.busyMs.toFixed(0)} ms busy of ${summary.durationMs.toFixed(0)} ms`,
        ['self ms', 'self %', 'total %', 'function', 'where'],
        summary.top.map((r) => [r.selfMs, r.selfPercent, r.totalPercent, r.function, r.where]),
      );
      return 0;
    },
  }),
};

async function main(): Promise<number> {
  const [name, ...argv] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h' || !(name in suites)) {
    if (name && !['--help', '-h'].includes(name)) console.error(`No suite named ${name}.`);
    console.log('Usage: npm run bench -- <suite> [options]   (each suite takes --help)\n\nSuites:');
    for (const [suiteName, load] of Object.entries(suites)) console.log(`  ${suiteName.padEnd(8)} ${(await load()).description}`);
    return name && !['--help', '-h'].includes(name) ? 2 : 0;
  }
  const suite = await suites[name]!();
  return (await suite.run(argv)) ?? 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
