/** Figures in advice titles: sizes, durations and counts in the words a person reads. */
export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${n} B`;
}

export function duration(ms: number): string {
  if (ms >= 3_600_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  if (ms >= 60_000) return `${Math.round(ms / 60_000)} min`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms)} ms`;
}

export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Local clock time (HH:MM:SS) of an ISO time. */
export function clock(iso: string): string {
  return new Date(iso).toTimeString().slice(0, 8);
}
