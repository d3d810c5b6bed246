/**
 * The cluster's state, asked again 2 s after each answer while a view shows it (hubs announce themselves every
 * second or so), with a sample of the cross-hub message counts per answer for the traffic rates.
 */
import { useCallback, useEffect, useState } from 'react';
import type { ClusterState } from '../../../../shared/cluster-protocol';
import { invoke, useConnection, useTransport, type Loadable } from '../../hooks';
import { messagesOf, RATE_SAMPLES, trafficPairs, type TrafficSample } from './traffic';

const REFRESH_MS = 2_000;

export type ClusterPoll = Loadable<ClusterState> & { samples: TrafficSample[]; reload(): void };

export function useClusterState(): ClusterPoll {
  const transport = useTransport();
  const connection = useConnection();
  const [generation, setGeneration] = useState(0);
  const [answer, setAnswer] = useState<{ value: Loadable<ClusterState>; samples: TrafficSample[] }>({ value: { state: 'loading' }, samples: [] });

  useEffect(() => {
    if (connection !== 'open') return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ask = () => {
      invoke(transport, 'cluster.state')
        .then(
          (state) => {
            if (!live) return;
            const sample = { t: Date.now(), counts: new Map(trafficPairs(state.hubs).map((pair) => [pair.key, messagesOf(pair)])) };
            setAnswer((before) => ({ value: { state: 'ready', value: state }, samples: [...before.samples.slice(-(RATE_SAMPLES - 1)), sample] }));
          },
          (error: Error) => live && setAnswer((before) => ({ ...before, value: { state: 'error', message: error.message } })),
        )
        // The next question once this one is answered: a slow hub is never asked twice at once.
        .finally(() => live && (timer = setTimeout(ask, REFRESH_MS)));
    };
    ask();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [transport, connection, generation]);

  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return { ...answer.value, samples: answer.samples, reload };
}
