/**
 * A second client process for the many-sockets phase: it holds some of the agents' sockets and drives their share
 * of the traffic, so one client event loop is not what limits the measurement. Driven over IPC by ClientWorker
 * (client-pool.ts); receivers compute latencies themselves from the send time in each body (the monotonic clock is
 * shared between processes).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { connectAgents } from './agents';
import type { Peer } from './peer';
import { LatencyRecorder, openLoop } from './traffic';
import type { WorkerCommand, WorkerReply } from './client-pool';

let peers: Peer[] = [];
let recorder = new LatencyRecorder();
let eld: IntervalHistogram | undefined;

const reply = (message: WorkerReply) => process.send!(message);

process.on('message', (command: WorkerCommand) => {
  void handle(command).catch((error: unknown) => reply({ ev: 'failed', error: (error as Error).stack ?? String(error) }));
});
process.on('disconnect', () => process.exit(0));
reply({ ev: 'ready' });

async function handle(command: WorkerCommand): Promise<void> {
  switch (command.cmd) {
    case 'connect': {
      const started = performance.now();
      peers = await connectAgents(command.wsBase, command.agents, command.concurrency);
      recorder = new LatencyRecorder().attach(peers);
      reply({ ev: 'connected', ms: performance.now() - started, count: peers.length });
      break;
    }
    case 'load': {
      recorder = new LatencyRecorder().attach(peers);
      eld = monitorEventLoopDelay({ resolution: 1 });
      eld.enable();
      const result = await openLoop(peers, command.recipients, command.ratePerSec, command.durationMs, command.bodyBytes, command.seed);
      reply({ ev: 'loaded', result });
      break;
    }
    case 'counts':
      reply({ ev: 'counts', delivered: recorder.delivered, errors: peers.reduce((n, p) => n + p.errors, 0) });
      break;
    case 'collect': {
      eld?.disable();
      reply({
        ev: 'collected',
        delivery: recorder.delivery,
        durable: recorder.durable,
        eldP99Ms: eld ? eld.percentile(99) / 1e6 : null,
        eldMaxMs: eld ? eld.max / 1e6 : null,
      });
      break;
    }
    case 'close':
      for (const peer of peers) peer.close();
      reply({ ev: 'closed' });
      setTimeout(() => process.exit(0), 200);
      break;
  }
}
