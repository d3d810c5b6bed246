/**
 * The hub's life in one process: started, stopped, restarted on restored data; what the cockpit's calls reach
 * meanwhile; and the status every page shows.
 */
import { version as appVersion } from '../../../package.json';
import type { LastRestore } from '../../shared/backup-protocol';
import type { HubStatus } from '../../shared/contract';
import type { CallHandlers } from '../cockpit/dispatch';
import { createCallHandlers } from '../cockpit/handlers';
import type { Hub } from '../hub';
import { restoreInPlace } from './restore-in-place';
import { startHub, type HubDeps, type RunningHub } from './start-hub';

export const PRODUCT_NAME = 'DevEnviro Cockpit';

const STATUS_TICK_MS = 1000;

export interface LifecycleDeps extends Omit<HubDeps, 'handlers' | 'lastRestore'> {
  runtime: HubStatus['runtime'];
}

export class HubLifecycle {
  /** The cockpit's calls; they answer from whichever hub is running when they arrive. */
  readonly handlers: CallHandlers;
  private running: RunningHub | null = null;
  private lastRestore: LastRestore | null = null;
  private statusTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: LifecycleDeps) {
    this.handlers = createCallHandlers({
      status: () => this.status(),
      hub: () => this.hub(),
      metrics: () => ({ latest: this.running?.feed.latest() ?? null, history: this.running?.feed.history() ?? [], histograms: deps.metrics }),
      restoreHub: (snapshotId) => this.restoreHub(snapshotId),
    });
    deps.services.onChange(() => deps.events.emit('hub.status', this.status()));
  }

  status(): HubStatus {
    const { startedAt } = this.deps;
    return {
      product: PRODUCT_NAME,
      version: appVersion,
      runtime: this.deps.runtime,
      pid: process.pid,
      nodeVersion: process.versions.node,
      startedAt: startedAt.toISOString(),
      uptimeMs: Date.now() - startedAt.getTime(),
      dataDir: this.deps.dataDir,
      apiUrl: this.running?.api.url ?? null,
      services: this.deps.services.list(),
    };
  }

  hub(): Hub {
    if (!this.running) throw new Error('the hub is not started');
    return this.running.hub;
  }

  async start(): Promise<{ apiUrl: string; cockpitUrl: string }> {
    if (this.running) throw new Error('the hub is already started');
    this.running = await startHub({ ...this.deps, handlers: this.handlers, lastRestore: () => this.lastRestore });
    this.statusTimer = setInterval(() => this.deps.events.emit('hub.status', this.status()), STATUS_TICK_MS);
    this.statusTimer.unref();
    const { url } = this.running.api;
    return { apiUrl: url, cockpitUrl: `${url}/?token=${this.deps.cockpitToken}` };
  }

  async stop({ quitBackup = true }: { quitBackup?: boolean } = {}): Promise<void> {
    clearInterval(this.statusTimer);
    const running = this.running;
    this.running = null;
    await running?.stop({ quitBackup });
    await this.deps.encoders.close();
  }

  async restoreInPlace(snapshotId: string): Promise<{ previousDataDir: string }> {
    const { hub, api } = this.running ?? {};
    if (!hub || !api) throw new Error('the hub is not started');
    return restoreInPlace(snapshotId, {
      dataDir: this.deps.dataDir,
      engine: hub.backup.engine,
      stop: () => this.stop({ quitBackup: false }),
      start: () => {
        // Back on the same port, so the cockpit's open pages and the agents reconnect where they were.
        this.deps.config.api.port = api.port;
        return this.start();
      },
    });
  }

  /** The cockpit's restore: reported through the 'backup.restored' event, as the cockpit reconnects meanwhile. */
  private async restoreHub(snapshotId: string): Promise<void> {
    const at = () => new Date().toISOString();
    try {
      const { previousDataDir } = await this.restoreInPlace(snapshotId);
      this.lastRestore = { snapshotId, previousDataDir, error: null, at: at() };
    } catch (error) {
      this.lastRestore = { snapshotId, previousDataDir: null, error: (error as Error).message, at: at() };
    }
    this.deps.events.emit('backup.restored', this.lastRestore);
  }
}
