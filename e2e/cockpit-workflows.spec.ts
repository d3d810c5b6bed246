/**
 * Tasks and workflows in the cockpit against a real headless hub and real agents: work waiting for an agent shows
 * with its reason and is cancelled from the view; a workflow started from the cockpit (a parallel branch, a fan-out
 * and an approval gate inside the branch) is drawn live as agents finish its tasks, approved in the cockpit, and
 * runs to success; a refused start, an edited approval, a failed step retried and a cancelled run, each by button.
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
    // The Overview counts it as stuck, and leads to the Tasks view.
    await page.getByTestId('nav-overview').click();
    await expect(page.getByTestId('stat-tasks-waiting')).toHaveText('1');
    await expect(page.getByTestId('stat-tasks-waiting').locator('xpath=..')).toContainText('1 no present agent can take');
    await page.getByTestId('stat-tasks-waiting').getByRole('link').click();
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

/** plan -> (build: a fan-out of 3, two at once -> approve) in parallel with docs -> publish. */
const RELEASE = {
  name: 'release-notes',
  project: 'e2e',
  input: { parts: ['cart', 'checkout', 'pay'] },
  steps: {
    plan: { kind: 'task', title: 'Plan the release', capabilities: ['plan'] },
    build: {
      kind: 'fan-out',
      dependsOn: ['plan'],
      items: { $ref: 'input.parts' },
      concurrency: 2,
      task: { title: 'Summarise one part', capabilities: ['code'], input: { part: { $ref: 'item' } } },
    },
    docs: { kind: 'task', dependsOn: ['plan'], title: 'Update the docs', capabilities: ['docs'] },
    approve: { kind: 'approval', dependsOn: ['build'], prompt: 'Publish these release notes?', subject: { $ref: 'steps.build.result' } },
    publish: { kind: 'task', dependsOn: ['approve', 'docs'], title: 'Publish the notes', capabilities: ['docs'], input: { notes: { $ref: 'steps.approve.result' } } },
  },
};

test.describe('workflows', () => {
  test.use({ viewport: { width: 1024, height: 900 } });

  test('a workflow started in the cockpit is drawn live as agents finish tasks, approved in the cockpit, and succeeds', async ({ page, hub }, testInfo) => {
    // Many steps, each waited on (never slept): on a loaded machine this takes longer than the usual minute.
    test.setTimeout(150_000);
    const problems = watchConsole(page);
    const lead = await TestAgent.connect(hub, { name: 'lead', tier: 'strategic', capabilities: ['plan'] });
    const dev1 = await TestAgent.connect(hub, { name: 'dev1', capabilities: ['code', 'docs'] });
    const dev2 = await TestAgent.connect(hub, { name: 'dev2', capabilities: ['code'] });
    for (const agent of [lead, dev1, dev2]) agent.takeTasks(4);

    await openCockpit(page, hub, 'workflows');
    await expect(page.getByTestId('wf-runs-empty')).toBeVisible();
    await page.getByTestId('wf-new').click();
    await page.getByTestId('wf-definition').fill(JSON.stringify(RELEASE, null, 2));
    // Checked and drawn before it runs: five steps, no states yet.
    await expect(page.getByTestId('wf-start-panel').getByTestId('wf-node')).toHaveCount(5);
    await page.getByTestId('wf-start-submit').click();

    const detail = page.getByTestId('wf-detail');
    await expect(detail).toBeVisible();
    const node = (step: string) => detail.locator(`[data-testid=wf-node][data-step="${step}"]`);
    await expect(node('plan')).toHaveAttribute('data-state', 'running');
    await expect(node('build')).toHaveAttribute('data-state', 'waiting');
    await expect(page.getByTestId('wf-run').first()).toHaveAttribute('data-name', 'release-notes');

    // The lead plans: the branch starts, the fan-out's first two items and the docs task go out.
    const plan = await lead.waitForTask((t) => t.stepId === 'plan');
    await lead.completeTask(plan.id, { parts: 3 });
    await expect(node('plan')).toHaveAttribute('data-state', 'succeeded');
    await expect(node('build')).toHaveAttribute('data-state', 'running');
    await expect(node('docs')).toHaveAttribute('data-state', 'running');
    await expect(node('build').getByTestId('wf-items')).toHaveAttribute('data-total', '3');

    // The developers finish the parts one by one; the node's progress bar follows.
    const builders = [dev1, dev2];
    const done = new Set<string>();
    for (let i = 1; i <= 3; i++) {
      const next = await Promise.race(builders.map((agent) => agent.waitForTask((t) => t.stepId === 'build' && !done.has(t.id)).then((task) => ({ agent, task }))));
      done.add(next.task.id);
      await next.agent.completeTask(next.task.id, { part: (next.task.input as { part: string }).part, summary: `notes by ${next.agent.name}` });
      await expect(node('build').getByTestId('wf-items')).toHaveAttribute('data-done', String(i));
    }
    await expect(node('build')).toHaveAttribute('data-state', 'succeeded');

    // The gate opens inside the branch while docs still runs; the sidebar and the list say so.
    await expect(node('approve')).toHaveAttribute('data-state', 'awaiting_approval');
    await expect(node('docs')).toHaveAttribute('data-state', 'running');
    const gate = page.getByTestId('wf-gate');
    await expect(gate.getByTestId('wf-gate-prompt')).toHaveText('Publish these release notes?');
    for (const part of ['cart', 'checkout', 'pay']) await expect(gate.getByTestId('wf-gate-subject')).toContainText(part);
    await expect(page.getByTestId('wf-nav-hint')).toHaveText('1');
    await expect(page.getByTestId('wf-run-awaiting')).toContainText('approve');
    await page.screenshot({ path: testInfo.outputPath('workflow-gate-1024.png'), fullPage: true });
    // The Overview counts it too, and leads back to the run.
    await page.getByTestId('nav-overview').click();
    await expect(page.getByTestId('stat-awaiting-approval')).toHaveText('1');
    await page.getByTestId('stat-awaiting-approval').getByRole('link').click();
    await expect(gate.getByTestId('wf-gate-prompt')).toBeVisible();

    const docs = await dev1.waitForTask((t) => t.stepId === 'docs');
    await dev1.completeTask(docs.id, { updated: ['docs/release.md'] });
    await expect(node('docs')).toHaveAttribute('data-state', 'succeeded');
    await expect(node('publish')).toHaveAttribute('data-state', 'waiting');

    // Approved in the cockpit: the gate closes and the downstream step runs.
    await gate.getByTestId('wf-approve').click();
    await expect(page.getByTestId('wf-gate')).toHaveCount(0);
    await expect(node('approve')).toHaveAttribute('data-state', 'succeeded');
    await expect(node('publish')).toHaveAttribute('data-state', 'running');
    const publish = await dev1.waitForTask((t) => t.stepId === 'publish');
    expect((publish.input as { notes: Array<{ part: string }> }).notes.map((n) => n.part)).toEqual(['cart', 'checkout', 'pay']);
    await dev1.completeTask(publish.id, { published: true });

    await expect(detail).toHaveAttribute('data-state', 'succeeded');
    await expect(page.getByTestId('wf-run-state')).toHaveText('succeeded');
    await expect(node('publish')).toHaveAttribute('data-state', 'succeeded');
    await expect(page.getByTestId('wf-nav-hint')).toHaveCount(0);
    // The timeline has a lane for each agent that ran something.
    const lanes = page.getByTestId('wf-timeline').getByTestId('wf-lane');
    await expect(lanes).toHaveCount(3);
    await expect(page.getByTestId('wf-timeline').locator('[data-testid=wf-bar][data-step=build]')).toHaveCount(3);
    // At 1024 px the graph fits the window.
    const graph = await detail.getByTestId('wf-graph').boundingBox();
    expect(graph!.x + graph!.width).toBeLessThanOrEqual(1024);
    await node('approve').click();
    await expect(page.getByTestId('wf-step')).toContainText('approve by the cockpit');
    await page.screenshot({ path: testInfo.outputPath('workflow-succeeded-1024.png'), fullPage: true });

    for (const agent of [lead, dev1, dev2]) agent.close();
    expect(problems).toEqual([]);
  });

  test('a refused start names the problem; an edited subject reaches the next step; a failed step is retried; a run is cancelled', async ({ page, hub }) => {
    test.setTimeout(150_000);
    const problems = watchConsole(page);
    const dev = await TestAgent.connect(hub, { name: 'dev', capabilities: ['code', 'docs'] });
    dev.takeTasks(4);
    await openCockpit(page, hub, 'workflows');

    // A step no agent of the project can run: the hub refuses it, naming the step, and nothing starts.
    await page.getByTestId('wf-new').click();
    const deploy = { name: 'deploy', project: 'e2e', steps: { ship: { kind: 'task', title: 'Deploy', capabilities: ['deploy'] } } };
    await page.getByTestId('wf-definition').fill(JSON.stringify(deploy));
    await page.getByTestId('wf-start-submit').click();
    await expect(page.getByTestId('wf-start-refused')).toContainText('no agent with capability `deploy`');
    await expect(page.getByTestId('wf-runs-empty')).toBeVisible();
    // Not even JSON: said at once, and Start stays off.
    await page.getByTestId('wf-definition').fill('{"name": ');
    await expect(page.getByTestId('wf-definition-problems')).toContainText('not JSON');
    await expect(page.getByTestId('wf-start-submit')).toBeDisabled();

    const notes = {
      name: 'notes',
      project: 'e2e',
      steps: {
        write: { kind: 'task', title: 'Write the notes', capabilities: ['code'] },
        gate: { kind: 'approval', dependsOn: ['write'], prompt: 'Are these notes right?', subject: { $ref: 'steps.write.result' } },
        ship: { kind: 'task', dependsOn: ['gate'], title: 'Ship the notes', capabilities: ['docs'], input: { notes: { $ref: 'steps.gate.result' } } },
      },
    };
    await page.getByTestId('wf-definition').fill(JSON.stringify(notes));
    await page.getByTestId('wf-start-submit').click();
    const detail = page.getByTestId('wf-detail');
    const node = (step: string) => detail.locator(`[data-testid=wf-node][data-step="${step}"]`);
    await expect(node('write')).toHaveAttribute('data-state', 'running');
    const write = await dev.waitForTask((t) => t.stepId === 'write');
    await dev.completeTask(write.id, { text: 'draft by dev' });

    // The person edits the subject before approving: the next step gets the edited version.
    const gate = page.getByTestId('wf-gate');
    await expect(gate.getByTestId('wf-gate-subject')).toContainText('draft by dev');
    await gate.getByTestId('wf-edit').click();
    await gate.getByTestId('wf-gate-edit').fill('{"text": "edited by a person"}');
    await gate.getByTestId('wf-edit-approve').click();
    await expect(node('gate')).toHaveAttribute('data-state', 'succeeded');
    const ship = await dev.waitForTask((t) => t.stepId === 'ship');
    expect(ship.input).toEqual({ notes: { text: 'edited by a person' } });

    // The step fails for good: the run fails; Retry step runs it again, and it succeeds.
    await dev.failTask(ship.id, 'the release server said no');
    await expect(node('ship')).toHaveAttribute('data-state', 'failed');
    await expect(detail).toHaveAttribute('data-state', 'failed');
    await node('ship').click();
    await expect(page.getByTestId('wf-step')).toContainText('the release server said no');
    await page.getByTestId('wf-retry').click();
    await expect(node('ship')).toHaveAttribute('data-state', 'running');
    const again = await dev.waitForTask((t) => t.stepId === 'ship' && dev.offered.indexOf(t) > dev.offered.indexOf(ship));
    await dev.completeTask(again.id, { shipped: true });
    await expect(detail).toHaveAttribute('data-state', 'succeeded');
    await expect(page.getByTestId('wf-step')).not.toContainText('Retry');

    // A second run, cancelled from the view while its first task is out: the task ends for its agent too.
    await page.getByTestId('wf-new').click();
    await page.getByTestId('wf-definition').fill(JSON.stringify({ ...notes, name: 'notes-again' }));
    await page.getByTestId('wf-start-submit').click();
    await expect(detail).toHaveAttribute('data-state', 'running');
    await expect(node('write')).toHaveAttribute('data-state', 'running');
    const second = await dev.waitForTask((t) => t.stepId === 'write' && t.id !== write.id);
    await page.getByTestId('wf-cancel').click();
    await page.getByTestId('wf-cancel-confirm').click();
    await expect(detail).toHaveAttribute('data-state', 'cancelled');
    await expect(page.locator('[data-testid=wf-run][data-name=notes-again]')).toHaveAttribute('data-state', 'cancelled');
    const late = await fetch(`${hub.baseUrl}/api/v1/tasks/${second.id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${dev.token}` },
      body: JSON.stringify({ json: { late: true } }),
    });
    expect(late.status).toBe(409);
    dev.close();
    expect(problems).toEqual([]);
  });
});

