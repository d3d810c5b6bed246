/** The memory benchmark's command-line options. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HUB_SUITE_OPTIONS, intOption } from '../lib/options';

const USAGE = `Usage: npm run bench -- memory [options]

  --memories N        memories stored before searching (100000)
  --single N          sequential single stores measured, on the empty engine and again at N memories (300)
  --concurrent N      single stores sent with many in flight (3000)
  --clients N         single stores in flight in the concurrent phase (64)
  --batch-min N       smallest batch of the batched phase (100)
  --batch-max N       largest batch of the batched phase (500)
  --batch-inflight N  batch requests in flight (2)
  --queries N         distinct search queries measured (1000)
  --k N               hits per search (10)
  --recall-queries N  queries for recall@10 of the saved vector index vs exact (100; 0 skips)
  --ivf-timeout S     longest wait for the background IVF build (240)
  --stores-only       stop after the store phases (single, concurrent, batched): no IVF wait, search or recall
  --search-only       no store phases: the hub runs on the data directory given by --data (one kept with
                      --keep-data), waits for its index, then searches (and checks recall unless --recall-queries 0)
  --single-only       only the single-store phase (one store in flight): on an empty engine, or with --data on that
                      data directory once its index is ready (it stores into it: run on a copy to repeat a run)
  --data DIR          the existing data directory --search-only or --single-only runs on (never removed)
  --quiet-wait S      wait up to S seconds before each phase for other processes to go quiet (10; 0: never)
  --quick             10,000 memories, fewer samples (a smoke run, not a measurement)
  --profile           run the hub under --cpu-prof and print its top self-time functions
  --no-build          measure out/ as it is, even if stale (warns); default: \`npm run build\` when stale
  --hub-entry FILE    run this headless.js instead of out/main/headless.js
  --data-root DIR     make the hub's data directory here (default: the OS temp dir)
  --keep-data         keep the hub's data directory
  --strict            exit 1 when a target is missed`;

export interface Options {
  memories: number;
  single: number;
  concurrent: number;
  clients: number;
  batchMin: number;
  batchMax: number;
  batchInflight: number;
  queries: number;
  k: number;
  recallQueries: number;
  ivfTimeoutMs: number;
  quietWaitMs: number;
  quick: boolean;
  profile: boolean;
  build: boolean;
  hubEntry: string | undefined;
  dataRoot: string | undefined;
  keepData: boolean;
  strict: boolean;
  storesOnly: boolean;
  searchOnly: boolean;
  singleOnly: boolean;
  data: string | undefined;
}

export function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...HUB_SUITE_OPTIONS,
      memories: { type: 'string' },
      single: { type: 'string' },
      concurrent: { type: 'string' },
      clients: { type: 'string' },
      'batch-min': { type: 'string' },
      'batch-max': { type: 'string' },
      'batch-inflight': { type: 'string' },
      queries: { type: 'string' },
      k: { type: 'string' },
      'recall-queries': { type: 'string' },
      'ivf-timeout': { type: 'string' },
      'stores-only': { type: 'boolean' },
      'search-only': { type: 'boolean' },
      'single-only': { type: 'boolean' },
      data: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  const quick = values.quick ?? false;
  const int = intOption;
  const options: Options = {
    memories: int('memories', values.memories, quick ? 10_000 : 100_000, 1000),
    single: int('single', values.single, quick ? 100 : 300),
    concurrent: int('concurrent', values.concurrent, quick ? 1000 : 3000),
    clients: int('clients', values.clients, 64),
    batchMin: int('batch-min', values['batch-min'], 100),
    batchMax: int('batch-max', values['batch-max'], 500),
    batchInflight: int('batch-inflight', values['batch-inflight'], 2),
    queries: int('queries', values.queries, quick ? 200 : 1000),
    k: int('k', values.k, 10),
    recallQueries: int('recall-queries', values['recall-queries'], quick ? 30 : 100, 0),
    ivfTimeoutMs: int('ivf-timeout', values['ivf-timeout'], 240, 1) * 1000,
    quietWaitMs: int('quiet-wait', values['quiet-wait'], 10, 0) * 1000,
    quick,
    profile: values.profile ?? false,
    build: !(values['no-build'] ?? false),
    hubEntry: values['hub-entry'],
    dataRoot: values['data-root'],
    keepData: values['keep-data'] ?? false,
    strict: values.strict ?? false,
    storesOnly: values['stores-only'] ?? false,
    searchOnly: values['search-only'] ?? false,
    singleOnly: values['single-only'] ?? false,
    data: values.data,
  };
  if (options.searchOnly && !options.data) throw new Error('--search-only needs --data DIR (a data directory kept with --keep-data)');
  if (options.data && !existsSync(path.join(options.data, 'memory.sqlite'))) throw new Error(`--data ${options.data}: no memory.sqlite there`);
  if (options.data && !options.searchOnly && !options.singleOnly) throw new Error('--data is for --search-only or --single-only');
  if (options.singleOnly && (options.searchOnly || options.storesOnly)) throw new Error('--single-only excludes --search-only and --stores-only');
  if (options.searchOnly && options.storesOnly) throw new Error('--search-only and --stores-only exclude each other');
  if (options.batchMax < options.batchMin) throw new Error('--batch-max must be >= --batch-min');
  if (options.k > 200) throw new Error('--k must be <= 200 (the API maximum)');
  return options;
}
