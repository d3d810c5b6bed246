/**
 * The workflows benchmark's agents, in a child process of their own (as real agents are other processes, and so the
 * hub's process CPU is the hub's alone): they register, connect their sockets, take pushed tasks and complete each
 * at once with `{i}` (the item's index), with a task.complete frame on the socket or over HTTP (`via`). Configured by
 * the env var BENCH_AGENTS (JSON: {url, count, slots, project, capability, via}); sends {ready: true} over the IPC
 * channel once all are connected.
 */
import WebSocket from 'ws';
import type { RegisterResponse, ServerFrame } from '../src/shared/agent-protocol';

const { url, count, slots, project, capability, via } = JSON.parse(process.env.BENCH_AGENTS ?? '{}') as { url: string; count: number; slots: number; project: string; capability: string; via?: 'socket' | 'http' };
const post = (message: unknown) => process.send?.(message);

async function connect(i: number): Promise<void> {
  const response = await fetch(`${url}/api/v1/agents/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: `w${i}`, project, capabilities: [capability] }),
  });
  const registered = (await response.json()) as RegisterResponse;
  const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/agents/${registered.agent.id}/realtime`, { headers: { authorization: `Bearer ${registered.token}` } });
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as ServerFrame;
    if (frame.type === 'error') post({ error: `${frame.ref ?? ''}: ${frame.code}: ${frame.message}` });
    if (frame.type !== 'task.offered') return;
    const input = frame.task.input as { i?: number } | undefined;
    if (via !== 'http') {
      ws.send(JSON.stringify({ type: 'task.complete', ref: frame.task.id, taskId: frame.task.id, result: { json: { i: input?.i ?? null } } }));
      return;
    }
    void fetch(`${url}/api/v1/tasks/${frame.task.id}/complete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${registered.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ json: { i: input?.i ?? null } }),
    }).then(async (answer) => {
      await answer.arrayBuffer();
      if (answer.status !== 200) post({ error: `complete ${frame.task.id}: ${answer.status}` });
    });
  });
  ws.send(JSON.stringify({ type: 'tasks.ready', slots }));
}

for (let i = 0; i < count; i++) await connect(i);
post({ ready: true });
