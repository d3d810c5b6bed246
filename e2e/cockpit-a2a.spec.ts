/**
 * The Agents view's A2A task list against a real headless hub: a task created with the official SDK client
 * (@a2a-js/sdk) appears live with its caller, target and state, and turns completed when the agent replies.
 */
import { Role, type Task } from '@a2a-js/sdk';
import { ClientFactory, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { expect, test } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

test('A2A tasks appear live in the Agents view with caller, target and state, and complete when the agent replies', async ({ page, hub }) => {
  const problems = watchConsole(page);
  await openCockpit(page, hub, 'agents');
  await expect(page.getByTestId('a2a-tasks')).toContainText('No A2A task');

  const planner = await TestAgent.connect(hub, { name: 'planner', project: 'shop' });
  const reviewer = await TestAgent.connect(hub, { name: 'reviewer', project: 'shop' });
  const withToken: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${planner.token}`);
    return fetch(input, { ...init, headers });
  };
  const client = await new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: withToken })] }).createFromUrl(hub.baseUrl);
  const task = (await client.sendMessage({
    tenant: '',
    message: {
      messageId: crypto.randomUUID(),
      contextId: '',
      taskId: '',
      role: Role.ROLE_USER,
      parts: [{ content: { $case: 'text', value: 'review PR 42' }, mediaType: 'text/plain', filename: '', metadata: {} }],
      metadata: { to: 'reviewer' },
      extensions: [],
      referenceTaskIds: [],
    },
    configuration: undefined,
    metadata: {},
  })) as Task;

  // Pushed, not polled: the row comes without a reload.
  const row = page.locator(`[data-testid=a2a-task][data-task="${task.id}"]`);
  await expect(row).toHaveAttribute('data-state', 'working', { timeout: 3000 });
  await expect(row.getByTestId('a2a-task-caller')).toHaveText('planner');
  await expect(row.getByTestId('a2a-task-target')).toHaveText('reviewer');

  const request = await reviewer.waitForMessage((message) => message.threadId === task.id);
  await reviewer.send(planner, 'approved', { replyTo: request.id });
  await expect(row).toHaveAttribute('data-state', 'completed', { timeout: 3000 });
  await expect(row.getByTestId('a2a-task-state')).toHaveText('completed');
  expect(problems).toEqual([]);
});
