/**
 * Bottlenecks the advisor found (src/main/advisor), as attention items: its warnings and critical findings, each
 * with its fix as the action when the hub can apply one. Agents' backlogs and slow consumers are left to the agents
 * source, which already lists them with their own actions.
 */
import type { AdviceEvidence } from '../../shared/advice-protocol';
import type { AttentionEvidence, AttentionItem } from '../../shared/attention-protocol';
import { describeAction } from './actions';
import type { SourceFactory } from './source';

const LEFT_TO_OTHER_SOURCES = new Set(['offline-inbox', 'slow-consumer']);

function evidenceOf(figure: AdviceEvidence): AttentionEvidence {
  if (figure.unit === 'ms' || figure.unit === 'bytes' || figure.unit === 'count') return { label: figure.label, value: figure.value, unit: figure.unit };
  if (figure.unit === 's') return { label: figure.label, value: figure.value * 1000, unit: 'ms' };
  if (figure.unit === 'minutes') return { label: figure.label, value: figure.value * 60_000, unit: 'ms' };
  if (figure.unit === 'percent') return { label: figure.label, value: `${figure.value}%` };
  return { label: `${figure.label} (${figure.unit})`, value: figure.value, unit: 'count' };
}

export const bottleneckSource: SourceFactory = ({ advice }) => () => {
  if (!advice) return [];
  const items: AttentionItem[] = [];
  for (const found of advice.latest()) {
    if (found.severity === 'info' || LEFT_TO_OTHER_SOURCES.has(found.rule)) continue;
    items.push({
      id: `bottleneck:${found.id}`,
      kind: 'bottleneck',
      severity: found.severity,
      project: found.project ?? null,
      title: found.title,
      detail: found.suggestion,
      evidence: found.evidence.map(evidenceOf),
      since: found.since,
      link: { view: 'performance', selection: null, label: 'Open Performance' },
      action: found.fix ? describeAction.applyFix(found) : null,
    });
  }
  return items;
};
