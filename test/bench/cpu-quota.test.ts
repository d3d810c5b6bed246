/**
 * The CPU quota groups the cluster benchmark puts each hub in (--hub-cpu): finding the cpu controller, reading
 * cpu.stat and /proc/<pid>/cgroup of both cgroup versions, and, where this machine lets us make a group, a real
 * process with a worker thread placed in one and held to its quota.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CpuQuotaGroup, cpuGroupOf, cpuQuotaUnavailable, findCpuController, parseCpuStat, quotaMicros } from '../../bench/lib/cpu-quota';
import { cpuSeconds } from '../../bench/lib/proc';
import { tempDir } from '../helpers';

describe('finding the cpu controller', () => {
  it('takes a cgroup v1 hierarchy holding cpu, alone or co-mounted with cpuacct', () => {
    const alone = 'cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n';
    expect(findCpuController(alone)).toEqual({ version: 1, mount: '/sys/fs/cgroup/cpu' });
    const together = 'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n';
    expect(findCpuController(together)).toEqual({ version: 1, mount: '/sys/fs/cgroup/cpu,cpuacct' });
  });

  it('takes cgroup v2 only when its cgroup.controllers offers cpu', () => {
    const withCpu = tempDir();
    writeFileSync(path.join(withCpu, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    expect(findCpuController(`cgroup2 ${withCpu} cgroup2 rw,nosuid 0 0\n`)).toEqual({ version: 2, mount: withCpu });
    const without = tempDir();
    writeFileSync(path.join(without, 'cgroup.controllers'), 'hugetlb\n');
    expect(findCpuController(`cgroup2 ${without} cgroup2 rw 0 0\n`)).toBeNull();
    // A v1 cpu hierarchy wins: the kernel gives a controller to one hierarchy only.
    expect(findCpuController(`cgroup2 ${withCpu} cgroup2 rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n`)).toEqual({ version: 1, mount: '/sys/fs/cgroup/cpu' });
  });

  it('finds none on a machine without cgroups', () => {
    expect(findCpuController('proc /proc proc rw 0 0\n/dev/sda1 / ext4 rw 0 0\n')).toBeNull();
  });
});

describe('reading what the kernel says', () => {
  it('reads cpu.stat of v1 (ns) and v2 (µs) in the same units', () => {
    expect(parseCpuStat('nr_periods 120\nnr_throttled 90\nthrottled_time 2500000000\nnr_bursts 0\nburst_time 0\n')).toEqual({ periods: 120, throttledPeriods: 90, throttledSeconds: 2.5 });
    expect(parseCpuStat('usage_usec 800000\nuser_usec 700000\nsystem_usec 100000\nnr_periods 50\nnr_throttled 10\nthrottled_usec 750000\n')).toEqual({ periods: 50, throttledPeriods: 10, throttledSeconds: 0.75 });
  });

  it("names a thread's cpu group from /proc/<pid>/task/<tid>/cgroup", () => {
    const v1 = '9:name=systemd:/\n4:memory:/elsewhere\n2:cpuacct:/\n1:cpu:/devenviro-bench-7-hub-a\n0::/\n';
    expect(cpuGroupOf(v1, 1)).toBe('/devenviro-bench-7-hub-a');
    expect(cpuGroupOf('3:cpu,cpuacct:/x\n', 1)).toBe('/x');
    expect(cpuGroupOf('0::/devenviro-bench-7-single\n', 2)).toBe('/devenviro-bench-7-single');
    expect(cpuGroupOf('4:memory:/m\n', 1)).toBeNull();
  });

  it('turns cores into µs per 100 ms period, refusing nonsense', () => {
    expect(quotaMicros(0.4)).toBe(40_000);
    expect(quotaMicros(1.5)).toBe(150_000);
    expect(quotaMicros(0.001)).toBe(1000);
    expect(quotaMicros(0.4, 10_000)).toBe(4000);
    expect(() => quotaMicros(0)).toThrow(/positive number of cores/);
    expect(() => quotaMicros(Number.NaN)).toThrow(/positive number of cores/);
  });
});

const unavailable = cpuQuotaUnavailable();

describe.skipIf(unavailable !== null)(`a real quota group${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('holds a process and the worker thread it starts later to the quota, weighted, and is removed after it exits', async () => {
    const group = CpuQuotaGroup.create(`test-${Date.now()}`, 0.2, 10);
    onTestFinished(() => void group.remove());
    expect(existsSync(group.dir)).toBe(true);
    // Weighted as ten ordinary processes, ahead of other work; capped by the quota all the same.
    const weight = group.controller.version === 1 ? ['cpu.shares', '10240'] : ['cpu.weight', '1000'];
    expect(readFileSync(path.join(group.dir, weight[0]!), 'utf8').trim()).toBe(weight[1]);
    // Two spinning threads would use two cores unheld; the worker starts after the process was placed.
    const script = `
      const { Worker } = require('node:worker_threads');
      new Worker('for (;;) {}', { eval: true }).on('online', () => console.log('ready'));
      setInterval(() => { const end = Date.now() + 50; while (Date.now() < end); }, 0);`;
    const [command, ...args] = group.launcher();
    const child = spawn(command!, [...args, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    onTestFinished(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before its worker started`)));
    });
    // exec kept the pid: the spawned child is node itself, not the shell.
    expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0')[0]).toBe(process.execPath);
    const threads = readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/^Threads:\s+(\d+)/m)![1];
    expect(Number(threads)).toBeGreaterThan(2);
    expect(group.threadsOutside(child.pid!)).toEqual([]);

    const before = { stat: group.stat(), cpu: cpuSeconds(child.pid!)!, at: performance.now() };
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = { stat: group.stat(), cpu: cpuSeconds(child.pid!)!, at: performance.now() };
    const wall = (after.at - before.at) / 1000;
    // Held back in most periods, and well under the two cores it asks for (0.2 core of quota; ticks are coarse).
    expect(after.stat.periods - before.stat.periods).toBeGreaterThan(0);
    expect(after.stat.throttledPeriods - before.stat.throttledPeriods).toBeGreaterThan((after.stat.periods - before.stat.periods) / 2);
    expect(after.stat.throttledSeconds).toBeGreaterThan(before.stat.throttledSeconds);
    expect((after.cpu - before.cpu) / wall).toBeLessThan(0.5);

    child.kill('SIGKILL');
    await exited;
    expect(group.remove()).toBe(true);
    expect(existsSync(group.dir)).toBe(false);
  });
});
