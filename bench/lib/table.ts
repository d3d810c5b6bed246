/** Plain-text tables for the terminal (and for pasting into reports). */

export type Cell = string | number | null | undefined;

export function formatTable(headers: string[], rows: Cell[][]): string {
  const text = rows.map((row) => headers.map((_, i) => cellText(row[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]!.length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number' || row[i] == null));
  const line = (cells: string[]) =>
    '| ' + cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (numeric[i] ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|';
  return [line(headers), rule, ...text.map(line)].join('\n');
}

export function printTable(title: string, headers: string[], rows: Cell[][]): void {
  console.log(`\n${title}`);
  console.log(formatTable(headers, rows));
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '—';
  if (typeof cell === 'number') return Number.isFinite(cell) ? fmt(cell) : String(cell);
  return cell;
}

/** Numbers as people read them: 3 significant digits below 100, integers with thousands separators above. */
export function fmt(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (n === 0) return '0';
  return Number(n.toPrecision(digits)).toString();
}

export function fmtMs(ms: number): string {
  return `${fmt(ms)} ms`;
}

export function fmtBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return mib >= 1 ? `${fmt(mib)} MiB` : `${fmt(bytes / 1024)} KiB`;
}

/** One line of a suite's closing table: a target and what was measured against it. */
export interface SummaryRow {
  metric: string;
  target: string;
  measured: string;
  verdict: 'PASS' | 'FAIL' | 'info' | 'not run' | 'ERROR';
}
