/**
 * The cockpit window's web preferences, kept apart from electron.ts so a test can hold them to the security
 * defaults without the Electron binary: an isolated, sandboxed page with no Node and only the preload's bridge.
 */
export function cockpitWebPreferences(preload: string) {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    spellcheck: false,
  } as const;
}
