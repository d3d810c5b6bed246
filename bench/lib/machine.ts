/** Facts about the machine a result was measured on, so numbers from different machines are not compared blindly. */
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import os from 'node:os';
import { repoRoot } from './paths';

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  nodeVersion: string;
  platform: string;
  kernel: string;
  totalMemGiB: number;
  /** The filesystem of the temp directory, where the hub under test keeps its SQLite files. */
  tmpDir: string;
  tmpFsType: string;
  loadAverage: number[];
  git: { commit: string | null; dirty: boolean | null };
}

const FS_MAGIC: Record<number, string> = {
  0xef53: 'ext4',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x65735546: 'fuse',
  0x6969: 'nfs',
};

export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  let fsType = 'unknown';
  try {
    const type = statfsSync(os.tmpdir()).type;
    fsType = FS_MAGIC[type] ?? `0x${type.toString(16)}`;
  } catch {
    // statfs is not available everywhere; the type is informative only.
  }
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    nodeVersion: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: os.release(),
    totalMemGiB: Math.round(os.totalmem() / 2 ** 30),
    tmpDir: os.tmpdir(),
    tmpFsType: fsType,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
    git: gitFacts(),
  };
}

export function machineLine(m: MachineFacts): string {
  return (
    `machine: ${m.cores} cores, ${m.cpuModel}, ${m.totalMemGiB} GiB, Node ${m.nodeVersion}, ${m.platform} ${m.kernel}, ` +
    `temp dir on ${m.tmpFsType}, load avg ${m.loadAverage.join(' ')}` +
    (m.git.commit ? `, git ${m.git.commit}${m.git.dirty ? '+dirty' : ''}` : '')
  );
}

function gitFacts(): MachineFacts['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}
