/**
 * The Messages view beyond the newest 500: each message's delivery and acknowledgement state, the stream grouped by
 * thread, older history paged from the hub, the composer's importance back to normal after a send, and search
 * matches marked.
 */
import { expect, test } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

test.use({ viewport: { width: 1440, height: 900 } });

test('delivery and ack state, thread grouping, history beyond 500, importance reset, search highlight', async ({ page, hub }) => {
  test.setTimeout(120_000);
  const problems = watchConsole(page);
  const alpha = await TestAgent.connect(hub, { name: 'alpha' });
  const beta = await TestAgent.connect(hub, { name: 'beta' });
  const first = await alpha.send(beta, 'the very first message, older than the newest 500', { subject: 'origin' });
  await alpha.burst(beta, 520, (i) => `filler ${i}`);
  const question = await alpha.send(beta, 'can you deploy the fix?', { subject: 'deploy' });
  await beta.send(alpha, 'deploy started', { replyTo: question.id });
  // beta acknowledges the question (its client would after reading it).
  const ack = await fetch(`${hub.baseUrl}/api/v1/agents/${beta.id}/messages/ack`, {
    method: 'POST',
    headers: { authorization: `Bearer ${beta.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [question.id] }),
  });
  expect(ack.status).toBe(200);

  await openCockpit(page, hub, 'messages');
  const stream = page.getByTestId('message-stream');
  const row = (id: string) => stream.locator(`[data-message-id="${id}"]`);
  // Delivery state per message: the question reached 1 inbox and was acknowledged; a filler was not.
  await expect(row(question.id).getByTestId('msg-delivery')).toHaveAttribute('data-state', 'acked');
  await expect(row(question.id).getByTestId('msg-delivery')).toHaveText('✓✓ 1/1');
  await expect(stream.getByTestId('message-row').nth(3).getByTestId('msg-delivery')).toHaveText('✓ 0/1');

  // The thread shows who received each message and who acknowledged it.
  await row(question.id).click();
  const receipts = page.getByTestId('thread-panel').getByTestId('thread-receipts');
  await expect(receipts.first()).toContainText('✓✓ beta');
  await expect(receipts.nth(1)).toContainText('✓ alpha');

  // Grouped by thread: the question and its reply are one row, "2 in thread".
  await page.getByTestId('stream-group').click();
  await expect(stream.getByTestId('message-row').first()).toContainText('deploy started');
  await expect(stream.getByTestId('message-row').first().getByTestId('msg-thread')).toHaveText('2 in thread');
  await page.getByTestId('stream-group').click();

  // History beyond the newest 500: paged from the hub until the first message.
  await expect(page.getByTestId('stream-count')).toHaveText('300 shown');
  await page.getByTestId('stream-older').click();
  await expect(page.getByTestId('stream-count')).toHaveText('500 shown');
  await page.getByTestId('stream-older').click();
  await expect(page.getByTestId('stream-count')).toHaveText('523 shown');
  await expect(stream.getByText('The beginning: nothing older.')).toBeVisible();
  await stream.getByTestId('stream-list').evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
  await expect(row(first.id)).toContainText('the very first message');

  // Importance is for one message: after a send it is back to normal.
  const composer = page.getByTestId('composer');
  await composer.getByTestId('composer-agent').selectOption({ label: '● beta (e2e)' });
  await composer.getByTestId('composer-body').fill('stop the deploy');
  await composer.getByRole('radio', { name: 'urgent' }).click();
  await composer.getByTestId('composer-send').click();
  await expect(composer.getByTestId('composer-result')).toContainText('delivered to 1 inbox');
  expect((await beta.waitForMessage((m) => m.body === 'stop the deploy')).importance).toBe('urgent');
  await expect(composer.getByRole('radio', { name: 'normal' })).toHaveAttribute('aria-checked', 'true');

  // Search matches are marked in the stream.
  await page.getByTestId('filter-text').fill('deploy');
  await expect(stream.getByTestId('message-row').first().locator('mark')).toHaveText(['deploy']);
  await expect(stream.locator('mark').first()).toHaveText(/deploy/i);
  expect(problems).toEqual([]);
});
