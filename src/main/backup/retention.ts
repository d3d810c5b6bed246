/**
 * Which snapshots to keep: the `last` newest, plus the newest snapshot of each of the `daily` most recent days that
 * have one, plus the newest of each of the `weekly` most recent ISO weeks that have one (restic's keep-last,
 * keep-daily and keep-weekly). Counting days that *have* snapshots, rather than calendar days back from today, means
 * a laptop left off for a month comes back with its older history intact instead of pruned to the last few.
 */
export interface RetentionPolicy {
  last: number;
  daily: number;
  weekly: number;
}

export interface Dated {
  id: string;
  time: Date;
}

export interface RetentionOptions {
  /** Days and weeks in local time (what a person means by "one per day") or UTC. Default local. */
  timeZone?: 'local' | 'utc';
}

export function snapshotsToKeep(snapshots: readonly Dated[], policy: RetentionPolicy, options: RetentionOptions = {}): Set<string> {
  const utc = options.timeZone === 'utc';
  const newestFirst = [...snapshots].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : -1));
  const keep = new Set<string>();
  newestFirst.slice(0, Math.max(0, policy.last)).forEach((s) => keep.add(s.id));
  const bucketed = (count: number, bucket: (d: Date) => string) => {
    const seen = new Set<string>();
    for (const s of newestFirst) {
      if (seen.size >= count) break;
      const key = bucket(s.time);
      if (seen.has(key)) continue;
      seen.add(key);
      keep.add(s.id);
    }
  };
  bucketed(policy.daily, (d) => dayKey(d, utc));
  bucketed(policy.weekly, (d) => isoWeekKey(d, utc));
  return keep;
}

function dayKey(d: Date, utc: boolean): string {
  return utc ? `${d.getUTCFullYear()}-${d.getUTCMonth() + 1}-${d.getUTCDate()}` : `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday), as "YYYY-Www". */
export function isoWeekKey(d: Date, utc = false): string {
  const y = utc ? d.getUTCFullYear() : d.getFullYear();
  const m = utc ? d.getUTCMonth() : d.getMonth();
  const day = utc ? d.getUTCDate() : d.getDate();
  const date = new Date(Date.UTC(y, m, day));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides its year
  const yearStart = Date.UTC(date.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((date.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${date.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}
