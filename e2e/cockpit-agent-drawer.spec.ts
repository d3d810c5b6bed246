/**
 * The agent drawer at 1024 px (where it lies over the table): how long an agent has been in its status, how old its
 * oldest unread message is, its activity marked stale once it is offline, a message to it from the drawer, and
 * Escape to close. The header counts the rows it lists; the overseer (the person) is online while the cockpit is open.
 *
 * Two hours of silence are made as a hub restart after them would find them: the hub is stopped, its messages and
 * last-seen times moved two hours back, and the hub started again on the same data.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, startHub, stopHub, test, type RunningHub } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

const HOUR = 3_600_000;

async function api(hub: RunningHub, route: string, token: string, body: unknown, method = 'POST') {
  const response = await fetch(`${hub.baseUrl}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return response.json();
}

async function register(hub: RunningHub, name: string): Promise<{ id: string; token: string }> {
  const response = await fetch(`${hub.baseUrl}/api/v1/agents/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, project: 'shop' }),
  });
  const { agent, token } = (await response.json()) as { agent: { id: string }; token: string };
  return { id: agent.id, token };
}

function backdate(dataDir: string, ms: number): void {
  const db = new Database(path.join(dataDir, 'hub.sqlite'));
  db.function('back', (iso: string) => new Date(Date.parse(iso) - ms).toISOString());
  db.exec("UPDATE messages SET created_at = back(created_at); UPDATE agents SET last_seen = back(last_seen) WHERE last_seen IS NOT NULL AND name <> 'overseer'");
  db.close();
}

test.use({ viewport: { width: 1024, height: 768 } });

test('the agent drawer: time in status, oldest unread, stale activity, message this agent, Escape closes; counts agree', async ({ hub: first, page }, testInfo) => {
  test.setTimeout(120_000);
  const problems = watchConsole(page);
  const tester = await register(first, 'tester');
  const lead = await register(first, 'lead');
  await api(first, `/agents/${tester.id}/status`, tester.token, { status: 'busy', activity: 'refactoring the parser' }, 'PUT');
  for (let i = 0; i < 3; i++) await api(first, `/agents/${tester.id}/messages`, lead.token, { body: `job ${i}` });
  await stopHub(first, { keepData: true });
  backdate(first.dataDir, 2 * HOUR);
  const hub = await startHub([], first.dataDir);
  try {
    const reviewer = await TestAgent.connect(hub, { name: 'reviewer', project: 'shop' });
    reviewer.setStatus('busy', 'reviewing the checkout change');
    await openCockpit(page, hub, 'agents');
    const rows = page.getByTestId('agent-row');
    await expect(rows).toHaveCount(3);
    // The header counts what the table lists; the person's own identity is a line of its own, online while in use.
    await expect(page.getByTestId('agents-count')).toContainText(/^3 agents · 1 online/);
    await expect(page.getByTestId('overseer-line').locator('[data-status]')).toHaveAttribute('data-status', 'online');

    const testerRow = page.locator('[data-testid=agent-row][data-name=tester]');
    await expect(testerRow.getByTestId('agent-activity')).toHaveAttribute('data-stale', 'true');
    await expect(testerRow.getByTestId('agent-activity')).toContainText('stale');
    await expect(page.locator('[data-testid=agent-row][data-name=reviewer]').getByTestId('agent-activity')).toHaveAttribute('data-stale', 'false', { timeout: 3000 });

    await testerRow.click();
    const drawer = page.getByTestId('agent-detail');
    await expect(drawer).toBeInViewport();
    await expect(drawer.getByTestId('agent-status-since')).toContainText(/offline\s*for 1h 5\dm/);
    await expect(drawer.getByTestId('agent-oldest-unread')).toHaveText('sent 2 h ago');
    await expect(drawer.getByTestId('agent-activity')).toContainText('stale');

    // Message this agent, from the drawer: it waits in its inbox (the agent is offline).
    await drawer.getByTestId('message-agent').click();
    await drawer.getByTestId('agent-message-body').fill('are you still on the parser?');
    await drawer.getByTestId('agent-message-send').click();
    await expect(drawer.getByTestId('agent-message-result')).toHaveText('Sent: in 1 inbox.');
    await expect(drawer).toContainText('4 waiting');
    await expect(drawer.getByTestId('agent-recent-messages')).toContainText('are you still on the parser?');

    await page.screenshot({ path: testInfo.outputPath('agent-drawer-1024.png') });
    // Escape in the message box closes the box; Escape again closes the drawer.
    await drawer.getByTestId('agent-message-body').press('Escape');
    await expect(drawer.getByTestId('agent-message-form')).toHaveCount(0);
    await expect(drawer).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(drawer).toHaveCount(0);
    expect(page.url()).toMatch(/#\/agents$/);
    expect(problems).toEqual([]);
  } finally {
    await stopHub(hub);
  }
});
