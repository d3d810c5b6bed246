/** Starts the raw relay baseline (relay-server.ts) as a child process. */
import { fork } from 'node:child_process';
import path from 'node:path';
import { stopChild, track } from './children';
import { benchDir, repoRoot } from './paths';

export interface RunningRelay {
  pid: number;
  url(id: string): string;
  stop(): Promise<void>;
}

export async function startRelay(): Promise<RunningRelay> {
  const child = track(
    fork(path.join(benchDir, 'lib/relay-server.ts'), [], { cwd: repoRoot, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the relay did not start within 20 s')), 20_000);
    child.once('message', (message: { port: number }) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('exit', (code) => reject(new Error(`the relay exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    url: (id) => `ws://127.0.0.1:${port}/?id=${encodeURIComponent(id)}`,
    async stop() {
      await stopChild(child, 3000);
    },
  };
}
