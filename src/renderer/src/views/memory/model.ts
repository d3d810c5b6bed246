/** What the Memory view's parts share: colours by kind and topic, how each link kind is drawn, short texts. */
import type { MemoryLinkKind } from '../../../../shared/memory-graph-protocol';
import type { MemoryKind } from '../../../../shared/memory-protocol';

/** A CSS variable per memory kind: the graph's node band, the legend and the kind tags agree. */
export const KIND_COLOR: Record<MemoryKind, string> = {
  fact: '--c-blue',
  decision: '--c-violet',
  task: '--c-amber',
  error: '--c-red',
  code: '--c-cyan',
  note: '--c-green',
  chunk: '--faint',
  document: '--c-orange',
  section: '--c-pink',
};

/** Topics are coloured by their place in the neighbourhood's list, so two topics side by side differ. */
export const TOPIC_COLORS = ['--c-blue', '--c-violet', '--c-green', '--c-amber', '--c-pink', '--c-cyan', '--c-orange', '--c-red'] as const;

export function topicColor(index: number): string {
  return index < 0 ? '--faint' : TOPIC_COLORS[index % TOPIC_COLORS.length]!;
}

/** How each link kind is drawn (memory.css has the strokes), and what the legend says of it. */
export const LINK_STYLE: Record<MemoryLinkKind, { label: string; explain: string; arrow: boolean }> = {
  entity: { label: 'shared entity', explain: 'both name the same file, symbol, error code, URL, person, ticket or commit', arrow: false },
  derived: { label: 'derived', explain: 'made from the other (document → section → chunk → item)', arrow: true },
  supersedes: { label: 'supersedes', explain: 'a newer value of the same fact; the arrow points at the old one', arrow: true },
  similar: { label: 'similar', explain: 'near neighbours in meaning (thicker: closer)', arrow: false },
};

export function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A topic's label as one line: its distinctive words. */
export function topicLabel(label: readonly string[]): string {
  return label.length > 0 ? label.join(' · ') : '(unlabelled)';
}

/** Tags as a person types them: comma- or space-separated, `#` optional, each once. */
export function parseTags(input: string): string[] {
  return [...new Set(input.split(/[\s,]+/).map((tag) => tag.replace(/^#+/, '').trim()).filter(Boolean))];
}
