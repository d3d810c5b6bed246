/** Live task and workflow figures the Tasks and Workflows views, the Overview and the sidebar share. */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { TaskCounts } from '../../../../shared/task-cockpit';
import type { WorkflowSummary } from '../../../../shared/workflow-run-protocol';
import { invoke, useConnection, useEvent, useThrottled, useTransport, type Loadable } from '../../hooks';

/** The task counts: fetched when the connection opens, then as the hub pushes them ('tasks.changed'). */
export function useTaskCounts(): Loadable<TaskCounts> {
  const transport = useTransport();
  const connection = useConnection();
  const [counts, setCounts] = useState<Loadable<TaskCounts>>({ state: 'loading' });
  useEvent('tasks.changed', (next) => setCounts({ state: 'ready', value: next }));
  useEffect(() => {
    if (connection !== 'open') return;
    let live = true;
    invoke(transport, 'tasks.counts', {}).then(
      (value) => live && setCounts((current) => (current.state === 'ready' && current.value.at > value.at ? current : { state: 'ready', value })),
      (error: Error) => live && setCounts({ state: 'error', message: error.message }),
    );
    return () => {
      live = false;
    };
  }, [transport, connection]);
  return counts;
}

/** Calls `reload`, at most once per `ms`, whenever the hub says tasks changed. */
export function useReloadOnTaskChange(reload: () => void, ms = 500): void {
  const throttled = useThrottled(reload, ms);
  useEvent('tasks.changed', throttled);
}

/**
 * The latest workflow runs (up to 100, newest first), fetched when the connection opens and then kept by the hub's
 * 'workflows.changed' summaries (a run not listed yet is added at the top).
 */
export function useWorkflowRuns(): Loadable<WorkflowSummary[]> & { reload(): void } {
  const transport = useTransport();
  const connection = useConnection();
  const [generation, setGeneration] = useState(0);
  const [runs, setRuns] = useState<Loadable<Map<string, WorkflowSummary>>>({ state: 'loading' });
  useEvent('workflows.changed', (changed) =>
    setRuns((current) => {
      if (current.state !== 'ready') return current;
      const next = new Map(current.value);
      for (const summary of changed) next.set(summary.id, summary);
      return { state: 'ready', value: next };
    }),
  );
  useEffect(() => {
    if (connection !== 'open') return;
    let live = true;
    invoke(transport, 'workflows.list', { limit: 100 }).then(
      (list) => live && setRuns({ state: 'ready', value: new Map(list.map((run) => [run.id, run])) }),
      (error: Error) => live && setRuns({ state: 'error', message: error.message }),
    );
    return () => {
      live = false;
    };
  }, [transport, connection, generation]);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return useMemo(() => {
    if (runs.state !== 'ready') return { ...runs, reload };
    const list = [...runs.value.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || (a.id < b.id ? 1 : -1));
    return { state: 'ready' as const, value: list, reload };
  }, [runs, reload]);
}
