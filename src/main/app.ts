/**
 * The composition root: builds the hub's app from a data directory and its config. The Electron shell and the
 * headless entry both call createApp and differ only in what they add around it (a window, or a URL). The wiring
 * itself lives in src/main/app/: encoders.ts (the sentence encoders), start-hub.ts (each service, in order),
 * lifecycle.ts (start, stop, status, the cockpit's calls) and restore-in-place.ts.
 */
import path from 'node:path';
import type { HubStatus } from '../shared/contract';
import type { CallHandlers } from './cockpit/dispatch';
import { EventBus } from './cockpit/event-bus';
import { loadCockpitToken, loadConfig, type AppConfig } from './config/config';
import { rendererDir as defaultRendererDir, resourcesDir as defaultResourcesDir } from './config/paths';
import type { SentenceEncoder } from './embedding';
import type { Hub } from './hub';
import { Metrics } from './monitor/metrics';
import { ServiceRegistry } from './monitor/service-registry';
import { EncoderLoader } from './app/encoders';
import { HubLifecycle } from './app/lifecycle';

export { PRODUCT_NAME } from './app/lifecycle';

export interface AppOptions {
  dataDir: string;
  runtime: HubStatus['runtime'];
  /** Read from `<dataDir>/config.json` (created with defaults) when not given. */
  config?: AppConfig;
  resourcesDir?: string;
  /** The built cockpit to serve to browsers; null serves none (the Electron window loads it from disk). */
  rendererDir?: string | null;
}

export interface App {
  readonly dataDir: string;
  readonly config: AppConfig;
  readonly events: EventBus;
  readonly services: ServiceRegistry;
  readonly handlers: CallHandlers;
  /** The secret a browser needs to open the cockpit; agents use tokens of their own. */
  readonly cockpitToken: string;
  status(): HubStatus;
  /** Resolves once the encoder is loaded (building it first if needed). */
  encoder(): Promise<SentenceEncoder>;
  /** The agent hub's services; present while the app is started. */
  hub(): Hub;
  start(): Promise<{ apiUrl: string; cockpitUrl: string }>;
  /** quitBackup: take the on-quit backup if the settings ask for one (default true). */
  stop(options?: { quitBackup?: boolean }): Promise<void>;
  /**
   * Restores the hub's own data from a snapshot, in place: restores beside the data directory and checks it
   * while the hub runs, then stops the hub, swaps the folders and starts again on the same port. The data it
   * replaced is kept beside, and its path returned.
   */
  restoreInPlace(snapshotId: string): Promise<{ previousDataDir: string }>;
}

export function createApp(options: AppOptions): App {
  const dataDir = path.resolve(options.dataDir);
  const config = options.config ?? loadConfig(dataDir);
  const cockpitToken = loadCockpitToken(dataDir);
  const events = new EventBus();
  const services = new ServiceRegistry();
  const encoders = new EncoderLoader(options.resourcesDir ?? defaultResourcesDir(), services);
  const lifecycle = new HubLifecycle({
    dataDir,
    config,
    cockpitToken,
    runtime: options.runtime,
    rendererDir: options.rendererDir === undefined ? defaultRendererDir() : options.rendererDir,
    startedAt: new Date(),
    events,
    services,
    metrics: new Metrics(),
    encoders,
  });

  return {
    dataDir,
    config,
    events,
    services,
    handlers: lifecycle.handlers,
    cockpitToken,
    status: () => lifecycle.status(),
    encoder: () => encoders.load(),
    hub: () => lifecycle.hub(),
    start: () => lifecycle.start(),
    stop: (stopOptions) => lifecycle.stop(stopOptions),
    restoreInPlace: (snapshotId) => lifecycle.restoreInPlace(snapshotId),
  };
}
