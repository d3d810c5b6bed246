/** The Electron shell's security defaults: window options, the built page's CSP, the preload's surface. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cockpitWebPreferences } from '../../src/main/window-options';

describe('Electron shell security defaults', () => {
  it('opens the cockpit isolated and sandboxed, with no Node in the page', () => {
    expect(cockpitWebPreferences('/app/preload.cjs')).toMatchObject({
      preload: '/app/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
    });
  });

  it('the built page carries the strict CSP, and the preload exposes only the bridge', () => {
    const html = readFileSync('out/renderer/index.html', 'utf8');
    const policy = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("script-src 'self';");
    expect(policy).not.toContain('unsafe-inline');
    expect(policy).not.toContain('unsafe-eval');
    const preload = readFileSync('out/preload/index.cjs', 'utf8');
    expect(preload).toContain('exposeInMainWorld');
    expect(preload.match(/exposeInMainWorld/g)).toHaveLength(1);
  });
});
