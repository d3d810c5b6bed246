import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';
import { CONTENT_SECURITY_POLICY } from './src/main/api/security';
import { CHUNKS_DIR, PROGRAMS } from './src/main/programs';

/**
 * Writes the one Content-Security-Policy (src/main/api/security.ts) into index.html, so the Electron window
 * (file://, no headers) and the browser cockpit (HTTP header) enforce the same policy. The dev server's hot reload
 * needs inline scripts and its own socket, so only `electron-vite dev` loosens it.
 */
function contentSecurityPolicy(): Plugin {
  let serving = false;
  return {
    name: 'cockpit-csp',
    configResolved(config) {
      serving = config.command === 'serve';
    },
    transformIndexHtml(html) {
      const policy = serving
        ? CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
            .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
            .replace("connect-src 'self'", "connect-src 'self' ws://localhost:* ws://127.0.0.1:*")
        : CONTENT_SECURITY_POLICY;
      // frame-ancestors is ignored in a <meta> policy (browsers warn); the HTTP header carries it.
      return html.replace('%COCKPIT_CSP%', policy.replace(/; frame-ancestors [^;]+/, ''));
    },
  };
}

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          electron: resolve('src/main/electron.ts'),
          headless: resolve('src/main/headless.ts'),
          cli: resolve('src/client/cli/main.ts'),
          client: resolve('src/client/index.ts'),
          // Worker and child-process programs, each out/main/<name>.js, found there by src/main/programs.ts.
          ...Object.fromEntries(Object.entries(PROGRAMS).map(([name, source]) => [name, resolve(source)])),
        },
        // programs.ts finds the programs from its own chunk's directory, so the chunk directory is fixed here.
        output: { chunkFileNames: `${CHUNKS_DIR}/[name]-[hash].js` },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      // A sandboxed preload runs as CommonJS with everything bundled in.
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: 'src/renderer',
    build: {
      outDir: 'out/renderer',
      rollupOptions: { input: { index: resolve('src/renderer/index.html') } },
    },
    plugins: [react(), contentSecurityPolicy()],
  },
});
