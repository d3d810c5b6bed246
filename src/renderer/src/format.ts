/** 93784000 ms -> "1d 2h 3m 4s": the largest units only, so a glance is enough. */
export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const parts: Array<[number, string]> = [
    [Math.floor(seconds / 86400), 'd'],
    [Math.floor((seconds % 86400) / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'm'],
    [seconds % 60, 's'],
  ];
  const firstNonZero = parts.findIndex(([value]) => value > 0);
  if (firstNonZero === -1) return '0s';
  return parts
    .slice(firstNonZero, firstNonZero + 3)
    .map(([value, unit]) => `${value}${unit}`)
    .join(' ');
}
