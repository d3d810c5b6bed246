/** The workflow timeline's lanes: one per agent in the order they first ran something, tasks not taken yet last. */
import { describe, expect, it } from 'vitest';
import { lanesOf } from '../../src/renderer/src/views/work/Timeline';
import type { WorkflowTimelineEntry } from '../../src/shared/workflow-run-protocol';

const entry = (taskId: string, agentId: string | null, createdAt: string, startedAt: string | null): WorkflowTimelineEntry => ({
  taskId,
  stepId: 'build',
  itemIndex: null,
  state: startedAt ? 'running' : 'ready',
  attempt: startedAt ? 1 : 0,
  agentId,
  createdAt,
  startedAt,
  finishedAt: null,
});

describe('workflow timeline lanes', () => {
  it('groups by agent, in the order agents first started, with work nobody took last', () => {
    const lanes = lanesOf([
      entry('t1', 'dev2', '2026-01-01T00:00:05Z', '2026-01-01T00:00:06Z'),
      entry('t2', null, '2026-01-01T00:00:01Z', null),
      entry('t3', 'dev1', '2026-01-01T00:00:01Z', '2026-01-01T00:00:02Z'),
      entry('t4', 'dev2', '2026-01-01T00:00:01Z', '2026-01-01T00:00:03Z'),
    ]);
    expect(lanes.map((lane) => [lane.agentId, lane.entries.map((e) => e.taskId)])).toEqual([
      ['dev1', ['t3']],
      ['dev2', ['t4', 't1']],
      [null, ['t2']],
    ]);
    expect(lanesOf([])).toEqual([]);
  });
});
