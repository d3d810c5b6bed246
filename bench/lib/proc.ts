/**
 * What a process costs, read from /proc (Linux): CPU time, resident memory and its peak. Elsewhere these return
 * null and the benchmark says so rather than guessing.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds the process has used so far, or null if /proc cannot tell. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / ticksPerSecond();
  } catch {
    return null;
  }
}

/**
 * CPU seconds of a process's main thread (the thread whose id is the pid: a Node process's event loop) and of all
 * its other threads together (worker threads, libuv's pool, V8's helpers), or null if /proc cannot tell.
 */
export function threadCpuSeconds(pid: number): { main: number; others: number; threads: Map<number, number> } | null {
  const total = cpuSeconds(pid);
  if (total === null) return null;
  try {
    const threads = new Map<number, number>();
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        threads.set(Number(task), (Number(fields[11]) + Number(fields[12])) / ticksPerSecond());
      } catch {
        // The thread ended meanwhile.
      }
    }
    const main = threads.get(pid);
    if (main === undefined) return null;
    return { main, others: Math.max(0, total - main), threads };
  } catch {
    return null;
  }
}

export interface MemoryStatus {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size since start (or since resetPeakRss), bytes. */
  hwm: number;
}

export function memoryStatus(pid: number): MemoryStatus | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, same user); false where that is not possible. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds all processes on the machine have used (busy time from /proc/stat), or null. */
export function machineBusySeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
    return (user! + nice! + system! + irq! + softirq! + steal!) / ticksPerSecond();
  } catch {
    return null;
  }
}

/** Microseconds some task on the machine was stalled on I/O since boot (Linux PSI), or null. */
export function ioStallMicros(): number | null {
  try {
    const some = readFileSync('/proc/pressure/io', 'utf8').split('\n', 1)[0]!;
    return Number(/total=(\d+)/.exec(some)?.[1] ?? NaN);
  } catch {
    return null;
  }
}

/**
 * CPU use of several processes over a window, as a percentage of one core (200% = both cores of a 2-core box),
 * plus `others`: what every other process on the machine used meanwhile (a busy machine skews every number), and
 * `ioStall`: the share of the window in which some task on the machine waited for the disk (PSI; a slow fsync in
 * the hub, or another job's disk traffic, shows here).
 */
export class CpuMeter {
  private readonly start = new Map<number, number | null>();
  private readonly machineStart = machineBusySeconds();
  private readonly ioStart = ioStallMicros();
  private readonly startedAt = performance.now();

  constructor(private readonly pids: Record<string, number>) {
    for (const pid of Object.values(pids)) this.start.set(pid, cpuSeconds(pid));
  }

  /** CPU seconds each process used since the meter started. */
  used(): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const before = this.start.get(pid);
      const now = cpuSeconds(pid);
      out[name] = before == null || now == null ? null : now - before;
    }
    return out;
  }

  read(): Record<string, number | null> {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const out: Record<string, number | null> = {};
    let ours = 0;
    for (const [name, pid] of Object.entries(this.pids)) {
      const before = this.start.get(pid);
      const now = cpuSeconds(pid);
      const used = before == null || now == null ? null : now - before;
      if (used !== null) ours += used;
      out[name] = used === null || seconds <= 0 ? null : Math.round((used / seconds) * 100);
    }
    const machineNow = machineBusySeconds();
    out.others =
      this.machineStart === null || machineNow === null || seconds <= 0 ? null : Math.max(0, Math.round(((machineNow - this.machineStart - ours) / seconds) * 100));
    const ioNow = ioStallMicros();
    out.ioStall = this.ioStart === null || ioNow === null || seconds <= 0 ? null : Math.round((ioNow - this.ioStart) / 1e4 / seconds);
    return out;
  }
}

/**
 * Waits (up to `timeoutMs`) until processes other than `ours` use less than `maxOthersPercent` of one core: other
 * jobs on a small machine (a test run, a type check) distort latency badly. Returns the last reading.
 */
export async function waitForQuietMachine(ours: number[], { maxOthersPercent = 25, windowMs = 500, timeoutMs = 20_000 } = {}): Promise<{ othersPercent: number | null; waitedMs: number }> {
  const started = performance.now();
  for (;;) {
    const meter = new CpuMeter(Object.fromEntries(ours.map((pid) => [String(pid), pid])));
    await sleep(windowMs);
    const others = meter.read().others ?? null;
    const waitedMs = performance.now() - started;
    if (others === null || others <= maxOthersPercent || waitedMs > timeoutMs) return { othersPercent: others, waitedMs };
  }
}

/** Samples a process's RSS every few milliseconds and keeps the highest value seen. */
export class RssSampler {
  peak = 0;
  samples = 0;
  /** [ms since start, RSS bytes] whenever RSS moved by 4 MiB or more since the last kept point. */
  readonly timeline: Array<[number, number]> = [];
  private readonly startedAt = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs = 5) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }

  private sample(): void {
    const status = memoryStatus(this.pid);
    this.samples++;
    if (!status) return;
    if (status.rss > this.peak) this.peak = status.rss;
    const last = this.timeline.at(-1);
    if (!last || Math.abs(status.rss - last[1]) >= 4 * 2 ** 20) this.timeline.push([Math.round(performance.now() - this.startedAt), status.rss]);
  }
}

/** Waits until a process has been (nearly) idle for a while: a phase should not pay for the previous one's tail. */
export async function waitForQuiet(pid: number, { maxCpuPercent = 8, windowMs = 300, timeoutMs = 15_000 } = {}): Promise<number> {
  const started = performance.now();
  for (;;) {
    const before = cpuSeconds(pid);
    await sleep(windowMs);
    const after = cpuSeconds(pid);
    if (before === null || after === null) return performance.now() - started;
    const percent = ((after - before) / (windowMs / 1000)) * 100;
    if (percent <= maxCpuPercent || performance.now() - started > timeoutMs) return performance.now() - started;
  }
}

/** Waits until a process's RSS stops moving (within `toleranceBytes` over `windowMs`). */
export async function waitForStableRss(pid: number, { toleranceBytes = 2 * 2 ** 20, windowMs = 1000, timeoutMs = 20_000 } = {}): Promise<number> {
  const started = performance.now();
  let last = memoryStatus(pid)?.rss ?? 0;
  for (;;) {
    await sleep(windowMs);
    const now = memoryStatus(pid)?.rss ?? 0;
    if (Math.abs(now - last) <= toleranceBytes || performance.now() - started > timeoutMs) return now;
    last = now;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
