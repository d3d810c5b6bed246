/**
 * Builds an IVF index in a child process, off the hub's event loop.
 *
 * Why a child process and not a worker_thread: faiss-node keeps each class's constructor in a C++ `static`
 * shared by every Node environment in the process. Loading it in a worker overwrites the main thread's
 * reference, and the main thread's next `Index.read`/`Index.fromFactory` then crashes the process (measured:
 * SIGSEGV as soon as a worker had loaded faiss-node). A child process has its own copy of everything.
 *
 * The child reads the snapshot (our vectors file, which is a FAISS flat index), trains the coarse quantizer on a
 * sample, adds every vector (labels = positions), then tunes nprobe: the smallest value whose recall@10 against
 * exact search (on vectors drawn from the snapshot, themselves excluded) reaches the target. It writes the index
 * and splits it into part files of about `partBytes`, each holding whole inverted lists (see splitByLists). The
 * parent loads the parts one by one, yielding between them: each merge fills empty lists, so no step is long.
 *
 * The child's program is build-program.ts, started through programs.ts (the built ivf-build.js, or the source
 * through tsx). In Electron, `process.execPath` is the Electron binary; ELECTRON_RUN_AS_NODE=1 makes it a plain
 * Node (this needs the `runAsNode` fuse, on by default).
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { spawnProgram } from '../programs';
import type { IvfPartMeta } from './files';

export interface IvfBuildJob {
  /** A FAISS flat inner-product file holding exactly `count` vectors (our vectors file). */
  vectorsFile: string;
  count: number;
  dimension: number;
  nlist: number;
  /** FAISS factory description of the coarse quantizer part, e.g. `IVF1024,Flat` or `IVF4096_HNSW32,Flat`. */
  description: string;
  trainPoints: number;
  /** Target size of a part file: the unit the parent loads between yields to its event loop. */
  partBytes: number;
  /** Part files are written as `${outPrefix}.${part}.faiss`; temporary files start with `${outPrefix}.`. */
  outPrefix: string;
  targetRecall: number;
  maxNprobe: number;
  tuneQueries: number;
  seed: number;
}

/** A part file as the child reports it: the header's record of a part (files.ts), with `file` its full path. */
export type IvfPartFile = IvfPartMeta;

export interface IvfBuildResult {
  parts: IvfPartFile[];
  nlist: number;
  nprobe: number;
  /** Estimated recall@10 at the chosen nprobe (vs exact, on sample vectors). */
  recall: number;
  /** Recall@10 for each nprobe tried, in order. */
  tuning: Array<{ nprobe: number; recall: number }>;
  trainPoints: number;
  trainMs: number;
  addMs: number;
  tuneMs: number;
}

export interface BuilderOptions {
  /** OpenMP/OpenBLAS threads in the child (default: cores - 1, at least 1). */
  threads?: number;
  /** Scheduling niceness added to the child (default 10: the hub's own thread wins the CPU). */
  niceness?: number;
  onProgress?: (step: string, fraction: number) => void;
}

export interface RunningBuild {
  result: Promise<IvfBuildResult>;
  /** Kills the child; `result` then rejects. */
  cancel(): void;
  readonly pid: number | undefined;
}

export function defaultBuildThreads(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

export function runIvfBuild(job: IvfBuildJob, options: BuilderOptions = {}): RunningBuild {
  const threads = String(options.threads ?? defaultBuildThreads());
  const child: ChildProcess = spawnProgram('ivf-build', ['--expose-gc'], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads },
    windowsHide: true,
  });
  if (child.pid !== undefined) {
    try {
      os.setPriority(child.pid, Math.min(19, os.getPriority(child.pid) + (options.niceness ?? 10)));
    } catch {
      // Not permitted everywhere; the build still runs, just at normal priority.
    }
  }
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  let cancelled = false;
  const result = new Promise<IvfBuildResult>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'progress') options.onProgress?.(message.step, message.fraction);
      else if (message.type === 'done') settle(() => resolve(message.result));
      else if (message.type === 'error') settle(() => reject(new Error(`IVF build failed: ${message.message}`)));
    });
    child.on('error', (error) => settle(() => reject(error)));
    child.on('exit', (code, signal) =>
      settle(() =>
        reject(
          new Error(
            cancelled
              ? 'IVF build cancelled'
              : `IVF build process exited (${signal ?? `code ${code}`}) before finishing${stderr ? `: ${lastLines(stderr)}` : ''}`,
          ),
        ),
      ),
    );
  });
  child.send({ type: 'build', job } satisfies ParentMessage);
  return {
    result,
    cancel() {
      cancelled = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    get pid() {
      return child.pid;
    },
  };
}

/** What the child (build-program.ts) posts. */
export type ChildMessage =
  | { type: 'progress'; step: string; fraction: number }
  | { type: 'done'; result: IvfBuildResult }
  | { type: 'error'; message: string };

/** What the parent sends the child: the one job it runs. */
export interface ParentMessage {
  type: 'build';
  job: IvfBuildJob;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-5).join(' | ');
}
