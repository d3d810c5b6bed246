/**
 * The desktop shell: the hub's services (built by createApp, as headless), one window showing the cockpit, and the
 * IPC bridge that carries the contract. Nothing else lives here.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app as electronApp, BrowserWindow, ipcMain, session, type WebContents } from 'electron';
import { IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL } from '../shared/ipc';
import { createApp, PRODUCT_NAME, type App } from './app';
import { configForRun, parseHubArgs } from './cli-args';
import { dispatchCall } from './cockpit/dispatch';
import { cockpitWebPreferences } from './window-options';
import { resolveDataDir } from '../shared/node/data-dir';

const here = path.dirname(fileURLToPath(import.meta.url));
const rendererDevUrl = process.env.ELECTRON_RENDERER_URL;
const rendererIndex = path.join(here, '../renderer/index.html');

function isOwnPage(url: string): boolean {
  return rendererDevUrl ? url.startsWith(rendererDevUrl) : url.startsWith('file://') && fileURLToPath(url) === rendererIndex;
}

function hardenContents(contents: WebContents): void {
  // The cockpit never opens other pages: links do not navigate it and no page opens new windows.
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-navigate', (event, url) => {
    if (!isOwnPage(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

function createWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 1360,
    height: 880,
    title: PRODUCT_NAME,
    show: false,
    webPreferences: cockpitWebPreferences(path.join(here, '../preload/index.cjs')),
  });
  window.once('ready-to-show', () => window.show());
  if (rendererDevUrl) void window.loadURL(rendererDevUrl);
  else void window.loadFile(rendererIndex);
  return window;
}

function bridgeContract(app: App): void {
  ipcMain.handle(IPC_CALL_CHANNEL, (event, name: unknown, params: unknown) => {
    // Only the cockpit page may call the hub, never a frame it might embed.
    if (!event.senderFrame || !isOwnPage(event.senderFrame.url)) {
      return { ok: false, error: { code: 'unauthorized', message: 'calls are accepted from the cockpit page only' } };
    }
    return dispatchCall(app.handlers, name, params);
  });
  app.events.onAny((name, payload) => {
    for (const window of BrowserWindow.getAllWindows()) {
      if (!window.isDestroyed()) window.webContents.send(IPC_EVENT_CHANNEL, name, payload);
    }
  });
}

async function main(): Promise<void> {
  // Electron and Chromium add switches of their own; only ours are read.
  const ours = process.argv.filter((arg, i, all) => /^--(data-dir|host|port)(=|$)/.test(arg) || /^--(data-dir|host|port)$/.test(all[i - 1] ?? ''));
  const args = parseHubArgs(ours);
  const dataDir = resolveDataDir({ flag: args.dataDir, electronUserData: electronApp.getPath('userData') });
  const config = configForRun(dataDir, args);

  await electronApp.whenReady();
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  electronApp.on('web-contents-created', (_event, contents) => hardenContents(contents));

  // The window loads the cockpit from disk; the hub still listens so agents (and a browser) can connect.
  const app = createApp({ dataDir, config, runtime: 'electron' });
  bridgeContract(app);
  await app.start();
  createWindow();

  electronApp.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
  electronApp.on('window-all-closed', () => {
    if (process.platform !== 'darwin') electronApp.quit();
  });
  let stopped = false;
  electronApp.on('will-quit', (event) => {
    if (stopped) return;
    event.preventDefault();
    void app.stop().finally(() => {
      stopped = true;
      electronApp.quit();
    });
  });
}

main().catch((error: unknown) => {
  console.error(`${PRODUCT_NAME} could not start: ${(error as Error).message}`);
  electronApp.exit(1);
});
