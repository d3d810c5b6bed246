/** Free space in the file systems of the data folder and the backup folder. */
import { statfs } from 'node:fs/promises';
import { bytes } from './format';
import type { Finding, RuleContext } from './rule';

export async function diskRules({ dataDir, backupTarget, settings }: RuleContext): Promise<Finding[]> {
  const folders: Array<{ name: 'data' | 'backup'; dir: string }> = [{ name: 'data', dir: dataDir }];
  if (backupTarget) folders.push({ name: 'backup', dir: backupTarget });
  const findings: Finding[] = [];
  for (const { name, dir } of folders) {
    const fs = await statfs(dir).catch(() => null);
    if (!fs) continue;
    const free = fs.bavail * fs.bsize;
    if (free >= settings.diskFreeBytes) continue;
    findings.push({
      advice: {
        id: `disk-free.${name}`,
        rule: 'disk-free',
        severity: free < settings.diskFreeBytes / 4 ? 'critical' : 'warning',
        title: `${bytes(free)} free where the ${name === 'data' ? "hub's data" : 'backups'} live (${dir})`,
        evidence: [
          { label: 'free space', value: free, unit: 'bytes', since: new Date().toISOString() },
          { label: 'file system size', value: fs.blocks * fs.bsize, unit: 'bytes', since: null },
          { label: 'threshold (advisor.diskFreeBytes)', value: settings.diskFreeBytes, unit: 'bytes', since: null },
        ],
        suggestion:
          name === 'data'
            ? 'free space on this disk: the hub stops accepting writes when SQLite cannot grow its files'
            : 'free space in the backup folder, or keep fewer snapshots (backup retention)',
        fix: null,
      },
    });
  }
  return findings;
}
