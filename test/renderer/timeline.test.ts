/**
 * The workflow timeline's lanes: one per agent in the order they were first given something, tasks not taken yet
 * last; tasks an agent ran at once on rows of their own.
 */
import { describe, expect, it } from 'vitest';
import { lanesOf } from '../../src/renderer/src/views/work/Timeline';
import type { WorkflowTimelineEntry } from '../../src/shared/workflow-run-protocol';

const entry = (taskId: string, agentId: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null = null): WorkflowTimelineEntry => ({
  taskId,
  stepId: 'build',
  itemIndex: null,
  state: startedAt ? 'running' : 'ready',
  attempt: startedAt ? 1 : 0,
  agentId,
  createdAt,
  startedAt,
  finishedAt,
});

describe('workflow timeline lanes', () => {
  it('groups by agent, in the order agents were first given work, with work nobody took last', () => {
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
    expect(lanes[1]!.rows).toEqual([0, 1]);
    expect(lanes[1]!.rowCount).toBe(2);
    expect(lanesOf([])).toEqual([]);
  });

  it('puts a task on the first row free when it was created', () => {
    const [lane] = lanesOf([
      entry('a', 'dev', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:04Z'),
      entry('b', 'dev', '2026-01-01T00:00:01Z', '2026-01-01T00:00:01Z', '2026-01-01T00:00:02Z'),
      entry('c', 'dev', '2026-01-01T00:00:03Z', '2026-01-01T00:00:03Z', '2026-01-01T00:00:05Z'),
      entry('d', 'dev', '2026-01-01T00:00:03Z', '2026-01-01T00:00:03Z', '2026-01-01T00:00:05Z'),
    ]);
    expect(lane!.rows).toEqual([0, 1, 1, 2]);
    expect(lane!.rowCount).toBe(3);
  });
});
