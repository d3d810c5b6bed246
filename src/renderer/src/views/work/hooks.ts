/** Live task and workflow figures the Tasks and Workflows views, the Overview and the sidebar share. */
import { useEffect, useState } from 'react';
import type { TaskCounts } from '../../../../shared/task-cockpit';
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
