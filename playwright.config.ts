import { existsSync } from 'node:fs';
import { chromium, defineConfig } from '@playwright/test';

/**
 * Playwright's own Chromium where it was installed (`npx playwright install`), else the system's (Debian's
 * `chromium` package), else whatever PLAYWRIGHT_CHROMIUM_EXECUTABLE names.
 */
function chromiumExecutable(): string | undefined {
  if (process.env.PLAYWRIGHT_CHROMIUM_EXECUTABLE) return process.env.PLAYWRIGHT_CHROMIUM_EXECUTABLE;
  if (existsSync(chromium.executablePath())) return undefined;
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((path) => existsSync(path));
}

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  // Each test starts its own hub; two cores run one browser at a time best.
  workers: 1,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: chromiumExecutable(),
      // Without these Chromium keeps dialling Google's services, which a closed network refuses noisily.
      args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    },
  },
});
