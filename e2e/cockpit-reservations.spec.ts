/**
 * The Reservations view against a real headless hub and real agents: leases taken over HTTP appear live, the person
 * releases one (and the agent's lease is gone over HTTP, so another agent may take the paths), and leases of agents
 * that went offline are marked after a restart of the hub, then listed as ended when they run out.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, startHub, stopHub, test } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

/** POST /api/v1/reservations as the agent: the status and the answer. */
async function reserve(agent: TestAgent, request: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const response = await fetch(`${agent.hub.baseUrl}/api/v1/reservations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${agent.token}` },
    body: JSON.stringify(request),
  });
  return { status: response.status, body: await response.json() };
}

test.describe('reservations', () => {
  test.use({ viewport: { width: 1440, height: 900 } });

  test('leases appear live as agents reserve over HTTP, and one released in the view is gone for the agent too', async ({ page, hub }, testInfo) => {
    const problems = watchConsole(page);
    await openCockpit(page, hub, 'reservations');
    await expect(page.getByTestId('reservations-empty')).toBeVisible();

    const alpha = await TestAgent.connect(hub, { name: 'alpha', project: 'shop' });
    const beta = await TestAgent.connect(hub, { name: 'beta', project: 'shop' });
    const taken = await reserve(alpha, { paths: ['src/auth/**', 'README.md'], mode: 'exclusive', reason: 'refactoring login', ttlSeconds: 600 });
    expect(taken.status).toBe(201);
    const leaseId = taken.body.reservations[0].id as string;

    const row = page.locator(`[data-testid=reservation-row][data-id="${leaseId}"]`);
    await expect(row).toBeVisible({ timeout: 2000 });
    await expect(row).toHaveAttribute('data-holder', 'alpha');
    await expect(row).toHaveAttribute('data-offline', 'false');
    for (const text of ['shop', 'alpha', 'src/auth/**', 'README.md', 'exclusive', 'refactoring login']) await expect(row).toContainText(text);
    await expect(row.getByTestId('reservation-left')).toHaveText(/^(9 m \d+ s|10 m 0 s)$/);

    const shared = await reserve(beta, { paths: ['docs'], mode: 'shared', reason: 'reading the docs', ttlSeconds: 120 });
    expect(shared.status).toBe(201);
    await expect(page.getByTestId('reservation-row')).toHaveCount(2, { timeout: 2000 });
    await expect(page.getByTestId('reservations-count')).toHaveText('2');
    await expect(page.getByTestId('nav-reservations')).toContainText('2');

    // While alpha holds it, beta may not take a file under src/auth.
    expect((await reserve(beta, { paths: ['src/auth/login.ts'] })).status).toBe(409);

    // The person releases alpha's lease, after confirming.
    await row.getByTestId('reservation-release').click();
    await expect(row.getByRole('alertdialog')).toContainText('Release alpha’s exclusive lease on 2 paths?');
    await page.screenshot({ path: testInfo.outputPath('reservations.png'), fullPage: true });
    await row.getByTestId('reservation-release-confirm').click();
    await expect(row).toHaveCount(0, { timeout: 2000 });
    await expect(page.getByTestId('reservation-row')).toHaveCount(1);
    await expect(page.getByTestId('reservation-ended').first()).toContainText('released from the cockpit');

    // Over HTTP the lease is gone: alpha is told so, and beta now gets the file.
    const gone = await fetch(`${hub.baseUrl}/api/v1/reservations/${leaseId}`, { headers: { authorization: `Bearer ${alpha.token}` } });
    expect(gone.status).toBe(404);
    const listed = await fetch(`${hub.baseUrl}/api/v1/reservations`, { headers: { authorization: `Bearer ${alpha.token}` } });
    expect(((await listed.json()) as { reservations: Array<{ id: string }> }).reservations.map((r) => r.id)).not.toContain(leaseId);
    expect((await reserve(beta, { paths: ['src/auth/login.ts'] })).status).toBe(201);
    await expect(page.getByTestId('reservation-row')).toHaveCount(2, { timeout: 2000 });

    // The holder's detail in the Agents view lists its leases too.
    await page.evaluate((id) => (window.location.hash = `#/agents/${id}`), beta.id);
    const betaLeases = page.getByTestId('agent-detail').getByTestId('agent-reservations');
    await expect(betaLeases.locator('li')).toHaveCount(2);
    await expect(betaLeases).toContainText('src/auth/login.ts');
    await expect(betaLeases).toContainText('docs');

    alpha.close();
    beta.close();
    expect(problems).toEqual([]);
  });

  test('leases of agents that are offline are marked, those of connected agents are not, and one that runs out is listed as ended with its holder away', async ({ page }) => {
    const first = await startHub();
    const away = await TestAgent.connect(first, { name: 'away', project: 'shop' });
    expect((await reserve(away, { paths: ['src/payments'], reason: 'long refactor', ttlSeconds: 30 })).status).toBe(201);
    away.close();
    await stopHub(first, { keepData: true });

    // The agent was last heard from an hour ago (past the 90 s presence timeout): the hub restarts with its lease.
    const db = new Database(path.join(first.dataDir, 'hub.sqlite'));
    db.prepare("UPDATE agents SET last_seen = ? WHERE name = 'away'").run(new Date(Date.now() - 3_600_000).toISOString());
    db.close();
    const hub = await startHub([], first.dataDir);
    try {
      const here = await TestAgent.connect(hub, { name: 'here', project: 'shop' });
      expect((await reserve(here, { paths: ['src/cart.ts'], reason: 'small fix', ttlSeconds: 600 })).status).toBe(201);
      await openCockpit(page, hub, 'reservations');

      const awayRow = page.locator('[data-testid=reservation-row][data-holder=away]');
      await expect(awayRow).toHaveAttribute('data-offline', 'true');
      await expect(awayRow.getByTestId('reservation-offline')).toHaveText('holder offline: it cannot renew');
      const hereRow = page.locator('[data-testid=reservation-row][data-holder=here]');
      await expect(hereRow).toHaveAttribute('data-offline', 'false');
      await expect(hereRow.getByTestId('reservation-offline')).toHaveCount(0);
      await expect(page.getByTestId('view-reservations')).toContainText('1 by offline agents');

      // Its holder away, the lease runs out (30 s after it was taken): it leaves the table and is listed as ended.
      await expect(awayRow).toHaveCount(0, { timeout: 40_000 });
      await expect(page.locator('[data-testid=reservation-ended][data-kind=expired]')).toContainText('expired: its holder was offline');
      await expect(hereRow).toBeVisible();
      here.close();
    } finally {
      await stopHub(hub);
    }
  });
});
