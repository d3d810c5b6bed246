/**
 * A CPU quota per process through Linux cgroups, so several processes on one machine each get the share of a core
 * a small machine of their own would give them (a model of separate machines, not separate machines: they still
 * share caches, memory bandwidth and the kernel). cgroup v1's `cpu` controller (cpu.cfs_quota_us) or cgroup v2's
 * (cpu.max); both need root or a delegated, writable hierarchy. A process is put in its group by a shell that writes
 * its own pid to cgroup.procs and then execs the real command, so every thread it ever starts is inside.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CpuController {
  version: 1 | 2;
  /** Where the hierarchy with the cpu controller is mounted, e.g. /sys/fs/cgroup/cpu. */
  mount: string;
}

/** `/proc/mounts` lines: device, mount point, type, options, ... */
export function findCpuController(mounts: string): CpuController | null {
  let v2: string | null = null;
  for (const line of mounts.split('\n')) {
    const [, mount, type, options] = line.split(' ');
    if (!mount || !options) continue;
    // v1: a `cgroup` mount whose options name the cpu controller (alone, or co-mounted as cpu,cpuacct).
    if (type === 'cgroup' && options.split(',').includes('cpu')) return { version: 1, mount };
    if (type === 'cgroup2' && v2 === null) v2 = mount;
  }
  if (v2 === null) return null;
  // v2: one unified hierarchy; it offers cpu only when no v1 hierarchy holds it.
  try {
    const controllers = readFileSync(path.join(v2, 'cgroup.controllers'), 'utf8');
    return controllers.split(/\s+/).includes('cpu') ? { version: 2, mount: v2 } : null;
  } catch {
    return null;
  }
}

/** What cpu.stat says, in the units both versions share. */
export interface CpuQuotaStat {
  /** Enforcement periods in which the group was runnable. */
  periods: number;
  /** Of those, the periods in which it used up its quota and was held back. */
  throttledPeriods: number;
  /** Time its threads waited, held back by the quota, seconds (summed over its threads, as the kernel counts it). */
  throttledSeconds: number;
}

/** cpu.stat of v1 (`throttled_time` in ns) or v2 (`throttled_usec`). */
export function parseCpuStat(text: string): CpuQuotaStat {
  const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  const ns = field('throttled_time');
  const us = field('throttled_usec');
  return {
    periods: field('nr_periods'),
    throttledPeriods: field('nr_throttled'),
    throttledSeconds: Number.isFinite(ns) ? ns / 1e9 : us / 1e6,
  };
}

/** The kernel's default enforcement period. */
export const PERIOD_US = 100_000;

/** The quota in µs per period for `cores` (0.4 → 40,000 of 100,000); the kernel takes nothing under 1 ms. */
export function quotaMicros(cores: number, periodUs = PERIOD_US): number {
  if (!Number.isFinite(cores) || cores <= 0) throw new Error(`a CPU quota must be a positive number of cores, not ${cores}`);
  return Math.max(1000, Math.round(cores * periodUs));
}

/**
 * The group a thread is in for the cpu controller, from /proc/<pid>/task/<tid>/cgroup (`1:cpu:/path` or
 * `1:cpu,cpuacct:/path` in v1, `0::/path` in v2), or null when no line names it.
 */
export function cpuGroupOf(procCgroup: string, version: 1 | 2): string | null {
  for (const line of procCgroup.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const where = line.slice(second + 1);
    if (version === 2 ? line.slice(0, first) === '0' && controllers === '' : controllers.split(',').includes('cpu')) return where;
  }
  return null;
}

/** Why no quota can be set here, or null: a cpu controller exists and a group can be made in it. */
export function cpuQuotaUnavailable(): string | null {
  if (process.platform !== 'linux') return `a CPU quota per process needs Linux cgroups (this is ${process.platform})`;
  let mounts: string;
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch (error) {
    return `cannot read /proc/mounts: ${(error as Error).message}`;
  }
  const controller = findCpuController(mounts);
  if (!controller) return 'no cgroup hierarchy with the cpu controller is mounted (neither cgroup v1 `cpu` nor cgroup v2 with `cpu` in cgroup.controllers)';
  const probe = path.join(controller.mount, `devenviro-bench-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (error) {
    return `cannot make a cgroup under ${controller.mount} (cgroup v${controller.version}): ${(error as Error).message}; run as root, or in a container with a writable cgroup mount`;
  }
  return null;
}

/** One cgroup holding one process, at `cores` of CPU per period. */
export class CpuQuotaGroup {
  private constructor(
    readonly controller: CpuController,
    /** The group's path inside its hierarchy, e.g. /devenviro-bench-123-hub-a (as /proc/<pid>/cgroup shows it). */
    readonly name: string,
    readonly cores: number,
  ) {}

  /**
   * Makes the group (`label` names it, with this process's pid) and sets its quota; throws with the reason otherwise.
   * `weight` (× the default share) puts it ahead of other work on a busy machine, so it gets its quota as a machine
   * of its own would, not whatever other jobs leave over. A shorter `periodUs` spreads the quota more evenly (0.4 core
   * as 4 ms of every 10 ms rather than 40 of every 100: more like a slower machine, less like one that stalls).
   */
  static create(label: string, cores: number, weight = 1, periodUs = PERIOD_US): CpuQuotaGroup {
    const unavailable = cpuQuotaUnavailable();
    if (unavailable) throw new Error(unavailable);
    const controller = findCpuController(readFileSync('/proc/mounts', 'utf8'))!;
    const group = new CpuQuotaGroup(controller, `/devenviro-bench-${process.pid}-${label.replace(/[^\w.-]/g, '_')}`, cores);
    const quota = quotaMicros(cores, periodUs);
    if (controller.version === 2) enableCpuInRoot(controller.mount);
    mkdirSync(group.dir);
    try {
      if (controller.version === 1) {
        writeFileSync(path.join(group.dir, 'cpu.cfs_period_us'), String(periodUs));
        writeFileSync(path.join(group.dir, 'cpu.cfs_quota_us'), String(quota));
        writeFileSync(path.join(group.dir, 'cpu.shares'), String(Math.round(1024 * weight)));
      } else {
        writeFileSync(path.join(group.dir, 'cpu.max'), `${quota} ${periodUs}`);
        writeFileSync(path.join(group.dir, 'cpu.weight'), String(Math.min(10_000, Math.max(1, Math.round(100 * weight)))));
      }
    } catch (error) {
      rmdirSync(group.dir);
      throw error;
    }
    return group;
  }

  get dir(): string {
    return path.join(this.controller.mount, this.name);
  }

  /**
   * A command prefix that runs the rest of the command inside this group: `sh -c 'echo $$ > procs; exec "$@"'`.
   * The pid stays the same through exec, so the spawned child's pid is the command's.
   */
  launcher(): string[] {
    return ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', path.join(this.dir, 'cgroup.procs')];
  }

  stat(): CpuQuotaStat {
    return parseCpuStat(readFileSync(path.join(this.dir, 'cpu.stat'), 'utf8'));
  }

  /** Thread ids of `pid` that are not in this group (none when the placement worked). */
  threadsOutside(pid: number): number[] {
    const outside: number[] = [];
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      let text: string;
      try {
        text = readFileSync(`/proc/${pid}/task/${task}/cgroup`, 'utf8');
      } catch {
        continue; // the thread ended meanwhile
      }
      if (cpuGroupOf(text, this.controller.version) !== this.name) outside.push(Number(task));
    }
    return outside;
  }

  /** Removes the group; its process must have exited. Returns false (and leaves it) if the kernel refuses. */
  remove(): boolean {
    try {
      rmdirSync(this.dir);
      return true;
    } catch {
      return false;
    }
  }
}

/** cgroup v2 hands the cpu controller to child groups only once the parent's subtree_control names it. */
function enableCpuInRoot(mount: string): void {
  const file = path.join(mount, 'cgroup.subtree_control');
  if (readFileSync(file, 'utf8').split(/\s+/).includes('cpu')) return;
  writeFileSync(file, '+cpu');
}
