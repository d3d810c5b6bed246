/** The sentence encoder's queue: texts waiting to be embedded (stores and searches wait behind them). */
import { count } from './format';
import type { Finding, RuleContext } from './rule';

export function inferenceRules({ hub, settings }: RuleContext): Finding[] {
  const encoder = hub.memory.openedStore()?.encoder;
  const depth = encoder?.queueDepth?.() ?? 0;
  if (!encoder || depth < settings.inferenceQueue) return [];
  return [
    {
      advice: {
        id: 'inference-queue',
        rule: 'inference-queue',
        severity: depth >= 4 * settings.inferenceQueue ? 'critical' : 'warning',
        title: `${count(depth)} texts are waiting for the encoder (${encoder.id})`,
        evidence: [
          { label: 'texts queued or embedding', value: depth, unit: 'count', since: new Date().toISOString() },
          { label: 'threshold (advisor.inferenceQueue)', value: settings.inferenceQueue, unit: 'count', since: null },
        ],
        suggestion:
          'stores and searches wait behind the queue: send memories in batches (one request of 100-500) rather than many single stores, ' +
          'or use a smaller model (memory.modelDir)',
        fix: null,
      },
    },
  ];
}
