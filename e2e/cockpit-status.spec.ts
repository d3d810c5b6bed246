/** The browser cockpit served by the headless hub: live status, the token, security headers. */
import { expect, test } from './hub';

test.describe('browser cockpit served by the headless hub', () => {
  test('shows the live hub status with every service up', async ({ page, hub }, testInfo) => {
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));

    // The cockpit opens on the overview; the status view has its own address.
    await page.goto(`${hub.cockpitUrl}#/status`);
    await expect(page.getByTestId('connection')).toHaveText('connected');
    await expect(page.getByTestId('status-runtime')).toHaveText('Headless (Node)');
    await expect(page.getByTestId('status-data-dir')).toHaveText(hub.dataDir);
    await expect(page.getByTestId('status-api-url')).toHaveText(hub.baseUrl);
    for (const service of ['database', 'vector-index', 'api', 'encoder']) {
      await expect(page.getByTestId(`service-${service}`)).toHaveAttribute('data-state', 'up', { timeout: 30_000 });
    }

    // Uptime is pushed by the hub, so it moves without a reload.
    const uptime = page.getByTestId('status-uptime');
    const first = await uptime.textContent();
    await expect(uptime).not.toHaveText(first!, { timeout: 5_000 });

    // The token leaves the address bar once read.
    expect(new URL(page.url()).searchParams.has('token')).toBe(false);
    // The strict CSP holds without blocking the app's own code or styles.
    expect(problems).toEqual([]);

    await page.screenshot({ path: testInfo.outputPath('status.png'), fullPage: true });
  });

  test('the page says what to do when opened without the token', async ({ page, hub }) => {
    await page.goto(hub.baseUrl);
    await expect(page.getByRole('alert')).toContainText('open the URL the hub printed');
  });

  test('a wrong token never connects', async ({ page, hub }) => {
    await page.goto(`${hub.baseUrl}/?token=not-the-token`);
    // The hub refuses the token and the page says so instead of retrying (e2e/cockpit-token.spec.ts covers the words).
    await expect(page.getByTestId('connection')).toHaveText('token not valid');
    await page.waitForTimeout(1500);
    await expect(page.getByTestId('connection')).not.toHaveText('connected');
  });

  test('security headers are sent with the cockpit', async ({ request, hub }) => {
    const response = await request.get(`${hub.baseUrl}/`);
    expect(response.status()).toBe(200);
    const csp = response.headers()['content-security-policy'];
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers()['x-content-type-options']).toBe('nosniff');
  });
});
