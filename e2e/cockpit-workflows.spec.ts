/**
 * Tasks and workflows in the cockpit against a real headless hub and real agents: work waiting for an agent shows
 * with its reason and is cancelled from the view.
 */
import { expect, test } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

/** POST /api/v1/tasks with the cockpit's token. */
async function createTask(hub: { baseUrl: string; token: string }, body: Record<string, unknown>): Promise<{ id: string }> {
  const response = await fetch(`${hub.baseUrl}/api/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.token}` },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) throw new Error(`create task: ${response.status} ${await response.text()}`);
  return (await response.json()) as { id: string };
}

test.describe('tasks', () => {
  test.use({ viewport: { width: 1024, height: 800 } });

  test('work waiting for an agent shows with its reason and a sidebar count, and is cancelled from the view', async ({ page, hub }, testInfo) => {
    const problems = watchConsole(page);
    const lead = await TestAgent.connect(hub, { name: 'lead', project: 'shop', tier: 'strategic' });
    await openCockpit(page, hub, 'tasks');
    await expect(page.getByTestId('tasks-waiting-empty')).toBeVisible();

    const review = await createTask(hub, { project: 'shop', title: 'review the cart', capabilities: ['review'] });
    const row = page.locator(`[data-testid=waiting-task][data-id="${review.id}"]`);
    await expect(row).toBeVisible();
    await expect(row.getByTestId('waiting-reason')).toHaveText('no agent with capability `review` in project shop');
    await expect(page.getByTestId('tasks-nav-hint')).toHaveText('1');
    await expect(page.getByTestId('tasks-stuck')).toHaveText('1');
    await expect(page.locator(`[data-testid=task-row][data-id="${review.id}"]`)).toHaveAttribute('data-state', 'ready');
    // At 1024 px nothing of the table is cut off: the Cancel button is inside the window.
    const box = await row.getByTestId('task-cancel').boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(1024);
    await page.screenshot({ path: testInfo.outputPath('tasks-1024.png'), fullPage: true });

    await row.getByTestId('task-cancel').click();
    await row.getByTestId('task-cancel-confirm').click();
    await expect(page.getByTestId('tasks-waiting-empty')).toBeVisible();
    await expect(page.locator(`[data-testid=task-row][data-id="${review.id}"]`)).toHaveAttribute('data-state', 'cancelled');
    await expect(page.getByTestId('tasks-nav-hint')).toHaveCount(0);
    lead.close();
    expect(problems).toEqual([]);
  });
});
