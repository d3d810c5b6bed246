/**
 * The only bridge between the sandboxed cockpit page and the hub: it forwards contract calls and events over two
 * IPC channels and exposes nothing else (no ipcRenderer, no Node).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { COCKPIT_GLOBAL, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type CockpitBridge, type IpcReply } from '../shared/ipc';

const bridge: CockpitBridge = {
  invoke: (name, params) => ipcRenderer.invoke(IPC_CALL_CHANNEL, name, params) as Promise<IpcReply<unknown>>,
  subscribe(listener) {
    const forward = (_event: IpcRendererEvent, name: string, payload: unknown) => listener(name, payload);
    ipcRenderer.on(IPC_EVENT_CHANNEL, forward);
    return () => ipcRenderer.removeListener(IPC_EVENT_CHANNEL, forward);
  },
};

contextBridge.exposeInMainWorld(COCKPIT_GLOBAL, bridge);
