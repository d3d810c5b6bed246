/**
 * CPU profiles and heap snapshots of the hub process, through node:inspector (the same protocol Chrome DevTools
 * speaks), written to `<dataDir>/profiles/` and downloaded by the cockpit. One at a time. A CPU profile samples for
 * the seconds asked (a few percent of one core meanwhile); a heap snapshot stops the world while V8 walks the heap
 * (about a second per few hundred MB of heap): every agent waits that long.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import path from 'node:path';
import { PROFILE_ID_PATTERN, type ProfileInfo, type ProfileKind } from '../../shared/advice-protocol';
import { conflict, notFound } from '../errors';

/** Profiles kept on disk (older ones are deleted when a new one starts). */
const KEEP = 10;
const PROGRESS_MS = 500;

export class Profiler {
  readonly dir: string;
  private readonly profiles = new Map<string, ProfileInfo>();
  private readonly listeners = new Set<(profiles: ProfileInfo[]) => void>();
  private current: Promise<void> | null = null;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'profiles');
  }

  list(): ProfileInfo[] {
    return [...this.profiles.values()].map((p) => ({ ...p })).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  onChange(listener: (profiles: ProfileInfo[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts a CPU profile (for `seconds`) or a heap snapshot; answers at once, progress through onChange. */
  start(kind: ProfileKind, seconds: number): ProfileInfo {
    if (this.current) throw conflict('a profile or snapshot is already being taken; wait for it to finish');
    mkdirSync(this.dir, { recursive: true });
    this.prune();
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const id = `${kind}-${stamp}-${randomBytes(2).toString('hex')}`;
    const info: ProfileInfo = {
      id,
      kind,
      state: 'running',
      seconds: kind === 'cpu' ? seconds : null,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      progress: 0,
      bytes: 0,
      fileName: `devenviro-hub-${id}.${kind === 'cpu' ? 'cpuprofile' : 'heapsnapshot'}`,
      error: null,
    };
    this.profiles.set(id, info);
    this.changed();
    const file = this.file(id);
    const work = kind === 'cpu' ? this.cpuProfile(info, file, seconds) : this.heapSnapshot(info, file);
    this.current = work
      .then(() => Object.assign(info, { state: 'done', progress: 1, bytes: statSync(file).size }))
      .catch((error: Error) => Object.assign(info, { state: 'failed', error: error.message }))
      .then(() => {
        info.finishedAt = new Date().toISOString();
        this.current = null;
        this.changed();
      });
    return { ...info };
  }

  /** A finished profile's file, for the download. */
  download(id: string): { file: string; info: ProfileInfo } {
    const info = PROFILE_ID_PATTERN.test(id) ? this.profiles.get(id) : undefined;
    if (!info) throw notFound(`no profile ${id}`);
    if (info.state !== 'done') throw conflict(`profile ${id} is ${info.state}`);
    return { file: this.file(id), info };
  }

  /** Waits for a profile under way (the hub stopping). */
  async stop(): Promise<void> {
    await this.current;
  }

  private file(id: string): string {
    return path.join(this.dir, id.startsWith('cpu') ? `${id}.cpuprofile` : `${id}.heapsnapshot`);
  }

  private async cpuProfile(info: ProfileInfo, file: string, seconds: number): Promise<void> {
    const session = new Session();
    session.connect();
    try {
      await post(session, 'Profiler.enable');
      // 1 ms between samples (the default is 1 ms too, said explicitly): fine enough to see a 20 ms stall.
      await post(session, 'Profiler.setSamplingInterval', { interval: 1000 });
      await post(session, 'Profiler.start');
      const started = Date.now();
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          info.progress = Math.min(0.99, (Date.now() - started) / (seconds * 1000));
          this.changed();
          if (Date.now() - started >= seconds * 1000) {
            clearInterval(timer);
            resolve();
          }
        }, Math.min(PROGRESS_MS, seconds * 1000));
      });
      const { profile } = (await post(session, 'Profiler.stop')) as { profile: unknown };
      await writeFile(file, JSON.stringify(profile));
    } finally {
      session.disconnect();
    }
  }

  private async heapSnapshot(info: ProfileInfo, file: string): Promise<void> {
    const session = new Session();
    session.connect();
    const out = createWriteStream(file);
    const closed = new Promise<void>((resolve, reject) => {
      out.once('finish', resolve);
      out.once('error', reject);
    });
    try {
      session.on('HeapProfiler.addHeapSnapshotChunk', (message: { params: { chunk: string } }) => {
        out.write(message.params.chunk);
        info.bytes += message.params.chunk.length;
      });
      // Stops the world: V8 walks the whole heap while nothing else runs.
      await post(session, 'HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    } finally {
      session.disconnect();
      out.end();
    }
    await closed;
  }

  private prune(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir).sort();
    } catch {
      return;
    }
    // Names sort by kind then time; keep the newest KEEP - 1 of all.
    const byTime = names.sort((a, b) => a.slice(a.indexOf('-')).localeCompare(b.slice(b.indexOf('-'))));
    for (const name of byTime.slice(0, Math.max(0, byTime.length - (KEEP - 1)))) {
      rmSync(path.join(this.dir, name), { force: true });
      this.profiles.delete(name.replace(/\.(cpuprofile|heapsnapshot)$/, ''));
    }
  }

  private changed(): void {
    const list = this.list();
    for (const listener of this.listeners) listener(list);
  }
}

function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))));
}
