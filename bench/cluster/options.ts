/** The cluster benchmark's command-line options. */
import { parseArgs } from 'node:util';
import { HUB_SUITE_OPTIONS, intOption, numberOption } from '../lib/options';

const PHASES = ['single', 'two', 'two-total', 'three'] as const;
type PhaseName = (typeof PHASES)[number];

const USAGE = `Usage: npm run bench -- cluster [options]

  --only LIST         phases to run, of ${PHASES.join(',')} (all)
  --samples N         paced sends measured for latency (500), after --warmup N (50)
  --pace-ms N         pause after each latency send is delivered (5)
  --senders N         senders in the one-way throughput phases (8)
  --recipients N      recipients in the one-way throughput phases (8)
  --spread-senders N  senders, and as many recipients, on each hub in the cluster totals (4)
  --messages N        messages each sender sends in a throughput phase (2500)
  --window N          unacknowledged sends per sender (50)
  --body-bytes N      message body size (256)
  --timeout S         longest wait for a throughput phase's acknowledgements (120)
  --drain S           longest wait after the last acknowledgement for the last pushes (30)
  --hub-cpu CORES     run every hub (the single hub too) in a cgroup of its own with this many cores of CPU
                      quota (e.g. 0.4), Redis and the bench's agents outside: a model of hubs on separate
                      small machines (Linux, root or a writable cgroup; default: all share the machine's cores)
  --hub-cpu-period-ms N
                      the quota's period (10; the kernel's default is 100, where a hub at 0.25 core runs
                      25 ms and then stalls 75 ms: a stop-go machine, not a slower one)
  --quiet-wait S      before each measured throughput run, wait up to S seconds for other processes to use under
                      a quarter of a core (with --hub-cpu 30, else 0: never)
  --quick             small counts (a smoke run, not a measurement)
  --profile           run the hubs under --cpu-prof and print their top self-time functions
  --no-build          measure out/ as it is, even if stale (warns); default: \`npm run build\` when stale
  --hub-entry FILE    run this headless.js instead of out/main/headless.js
  --data-root DIR     make the data directories (hubs' and Redis's) here (default: the OS temp dir)
  --keep-data         keep the data directories
  --strict            exit 1 when a goal is missed`;

export interface ClusterBenchOptions {
  only: Set<PhaseName>;
  samples: number;
  warmup: number;
  paceMs: number;
  senders: number;
  recipients: number;
  spreadSenders: number;
  perSender: number;
  window: number;
  bodyBytes: number;
  timeoutMs: number;
  drainMs: number;
  /** Cores of CPU quota per hub (--hub-cpu), or undefined: every process shares the machine's cores. */
  hubCpu: number | undefined;
  /** The quota's enforcement period, ms. */
  hubCpuPeriodMs: number;
  /** Longest wait for other processes to quiet down before a measured throughput run, ms (0: none). */
  quietWaitMs: number;
  quick: boolean;
  profile: boolean;
  /** Set by the suite when profiling: where the hubs write their profiles. */
  profileDir?: string;
  build: boolean;
  hubEntry: string | undefined;
  dataRoot: string | undefined;
  keepData: boolean;
  strict: boolean;
}

export function parseOptions(argv: string[]): ClusterBenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...HUB_SUITE_OPTIONS,
      only: { type: 'string' },
      samples: { type: 'string' },
      warmup: { type: 'string' },
      'pace-ms': { type: 'string' },
      senders: { type: 'string' },
      recipients: { type: 'string' },
      'spread-senders': { type: 'string' },
      messages: { type: 'string' },
      window: { type: 'string' },
      'body-bytes': { type: 'string' },
      timeout: { type: 'string' },
      drain: { type: 'string' },
      'hub-cpu': { type: 'string' },
      'hub-cpu-period-ms': { type: 'string' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  const quick = values.quick ?? false;
  const only = new Set<PhaseName>();
  for (const name of (values.only ?? PHASES.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(PHASES as readonly string[]).includes(name)) throw new Error(`--only: no phase named ${name} (phases: ${PHASES.join(', ')})`);
    only.add(name as PhaseName);
  }
  return {
    only,
    samples: intOption('samples', values.samples, quick ? 100 : 500),
    warmup: intOption('warmup', values.warmup, quick ? 10 : 50, 0),
    paceMs: numberOption('pace-ms', values['pace-ms'], 5, 0),
    senders: intOption('senders', values.senders, quick ? 4 : 8),
    recipients: intOption('recipients', values.recipients, quick ? 4 : 8),
    spreadSenders: intOption('spread-senders', values['spread-senders'], quick ? 2 : 4),
    perSender: intOption('messages', values.messages, quick ? 500 : 2500),
    window: intOption('window', values.window, 50),
    bodyBytes: intOption('body-bytes', values['body-bytes'], 256, 64),
    timeoutMs: numberOption('timeout', values.timeout, 120, 1) * 1000,
    drainMs: numberOption('drain', values.drain, quick ? 10 : 30, 0) * 1000,
    hubCpu: values['hub-cpu'] === undefined ? undefined : hubCpuOption(values['hub-cpu']),
    hubCpuPeriodMs: numberOption('hub-cpu-period-ms', values['hub-cpu-period-ms'], 10, 1),
    // With a quota per hub the model holds only while the machine has cores to spare; without, the bench is as it was.
    quietWaitMs: numberOption('quiet-wait', values['quiet-wait'], values['hub-cpu'] === undefined ? 0 : 30, 0) * 1000,
    quick,
    profile: values.profile ?? false,
    build: !values['no-build'],
    hubEntry: values['hub-entry'],
    dataRoot: values['data-root'],
    keepData: values['keep-data'] ?? false,
    strict: values.strict ?? false,
  };
}

/** `--hub-cpu CORES`: a share of a core or more, at least the kernel's 1 ms per 100 ms period. */
function hubCpuOption(value: string): number {
  const cores = Number(value);
  if (!Number.isFinite(cores) || cores < 0.01) throw new Error(`--hub-cpu must be a number of cores >= 0.01 (e.g. 0.4), not ${value}`);
  return cores;
}
