/**
 * The cockpit's views against a real headless hub and real agents (WebSocket clients from this process): what the
 * agents do shows up live, and what the person does in the cockpit reaches the agents.
 */
import { expect, test } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

test.describe('cockpit views', () => {
  // A desk monitor rather than a laptop: what the screenshots show is what a person keeps open all day.
  test.use({ viewport: { width: 1440, height: 900 } });

  test('agents appear live, their detail opens, and revoking disconnects', async ({ page, hub }, testInfo) => {
    const problems = watchConsole(page);
    await openCockpit(page, hub, 'agents');

    // Only the overseer exists yet: the view points to the Connect view (its own spec: cockpit-connect.spec.ts).
    await expect(page.getByTestId('connect-hint').getByRole('link', { name: 'Connect an agent' })).toHaveAttribute('href', '#/connect');
    await expect(page.getByTestId('connect-link')).toHaveAttribute('href', '#/connect');

    const alpha = await TestAgent.connect(hub, { name: 'alpha', tier: 'strategic' });
    const connectedAt = Date.now();
    await expect(page.locator('[data-testid=agent-row][data-name=alpha]')).toBeVisible({ timeout: 1000 });
    expect(Date.now() - connectedAt).toBeLessThan(1000);
    const beta = await TestAgent.connect(hub, { name: 'beta', project: 'other-project', tier: 'memory' });
    const betaRow = page.locator('[data-testid=agent-row][data-name=beta]');
    await expect(betaRow).toBeVisible({ timeout: 1000 });
    await expect(betaRow.getByTestId('agent-connected')).toHaveAttribute('data-connected', 'true');
    await expect(betaRow).toContainText('other-project');

    // Status changes are pushed too.
    alpha.setStatus('busy', 'running the test suite');
    const alphaRow = page.locator('[data-testid=agent-row][data-name=alpha]');
    await expect(alphaRow).toContainText('running the test suite', { timeout: 2000 });
    await expect(alphaRow.locator('[data-status]')).toHaveAttribute('data-status', 'busy');

    // Traffic moves the counters.
    await alpha.send(beta, 'hello beta, from alpha', { subject: 'greeting' });
    await expect(betaRow.getByTestId('agent-inout')).toHaveText('1/0', { timeout: 5000 });
    await expect(alphaRow.getByTestId('agent-inout')).toHaveText('0/1');

    await alphaRow.click();
    const detail = page.getByTestId('agent-detail');
    await expect(detail).toContainText('alpha');
    await expect(detail).toContainText(alpha.id);
    await expect(detail.getByTestId('agent-recent-messages')).toContainText('hello beta, from alpha');
    expect(page.url()).toContain(`#/agents/${alpha.id}`);
    await page.screenshot({ path: testInfo.outputPath('agents.png'), fullPage: true });

    // Revoke asks first; cancelling changes nothing.
    await detail.getByTestId('revoke').click();
    await detail.getByRole('button', { name: 'Cancel' }).click();
    expect(alpha.isOpen).toBe(true);
    await detail.getByTestId('revoke').click();
    await expect(detail.getByRole('alertdialog')).toContainText('cannot be undone');
    await detail.getByTestId('revoke-confirm').click();
    const closed = await alpha.closed;
    expect(closed.code).toBe(4403);
    await expect(alphaRow).toContainText('revoked');
    await expect(detail).toContainText('Revoked: its token no longer works');

    beta.close();
    await expect(betaRow.getByTestId('agent-connected')).toHaveAttribute('data-connected', 'false');
    expect(problems).toEqual([]);
  });

  test('the message stream shows agent traffic live, opens threads, and the composer reaches an agent', async ({ page, hub }, testInfo) => {
    const problems = watchConsole(page);
    const alpha = await TestAgent.connect(hub, { name: 'alpha' });
    const beta = await TestAgent.connect(hub, { name: 'beta' });
    // One message before the page opens: it comes from `messages.list`, the rest live.
    const first = await alpha.send(beta, 'the build is green again', { subject: 'CI' });
    await openCockpit(page, hub, 'messages');

    const stream = page.getByTestId('message-stream');
    await expect(stream.getByTestId('message-row').filter({ hasText: 'the build is green again' })).toBeVisible();

    await beta.send(alpha, 'thanks, merging now', { replyTo: first.id });
    const reply = stream.getByTestId('message-row').filter({ hasText: 'thanks, merging now' });
    await expect(reply).toBeVisible({ timeout: 2000 });
    // Newest first.
    await expect(stream.getByTestId('message-row').first()).toContainText('thanks, merging now');
    await expect(reply).toContainText('beta');
    await expect(reply).toContainText('alpha');

    // A click opens the thread: both messages, oldest first.
    await reply.click();
    const thread = page.getByTestId('thread-panel');
    await expect(thread.getByTestId('thread-message')).toHaveCount(2);
    await expect(thread.getByTestId('thread-message').first()).toContainText('the build is green again');
    await expect(thread).toContainText('CI');
    expect(page.url()).toContain(`#/messages/${first.threadId}`);

    // The composer sends as the overseer; the agent's socket receives it.
    const composer = page.getByTestId('composer');
    await composer.getByTestId('composer-to-agent').click();
    await composer.getByTestId('composer-agent').selectOption({ label: '● beta (e2e)' });
    await composer.getByTestId('composer-subject').fill('from the cockpit');
    await composer.getByTestId('composer-body').fill('please rebase onto main before merging');
    await composer.getByRole('radio', { name: 'high' }).click();
    await composer.getByTestId('composer-send').click();
    await expect(composer.getByTestId('composer-result')).toContainText('delivered to 1 inbox');
    const received = await beta.waitForMessage((m) => m.body === 'please rebase onto main before merging');
    expect(received.subject).toBe('from the cockpit');
    expect(received.importance).toBe('high');
    await expect(stream.getByTestId('message-row').first()).toContainText('please rebase onto main before merging');

    // Topic messages, and the text filter (answered by `messages.list` with `text`, then kept live).
    await alpha.send({ type: 'broadcast' }, 'deploy window opens at five');
    await page.getByTestId('filter-text').fill('deploy');
    await expect(stream.getByTestId('message-row')).toHaveCount(1);
    await expect(stream.getByTestId('message-row')).toContainText('deploy window opens at five');
    await beta.send(alpha, 'deploy done');
    await beta.send(alpha, 'unrelated chatter');
    await expect(stream.getByTestId('message-row')).toHaveCount(2);
    await expect(stream.getByTestId('message-row').first()).toContainText('deploy done');
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect(stream.getByTestId('message-row').filter({ hasText: 'unrelated chatter' })).toBeVisible();

    // The agent filter.
    await page.getByTestId('filter-agent').selectOption({ label: 'alpha (e2e)' });
    await expect(stream.getByTestId('message-row').filter({ hasText: 'please rebase' })).toHaveCount(0);
    await expect(stream.getByTestId('message-row').filter({ hasText: 'the build is green again' })).toBeVisible();
    await page.getByRole('button', { name: 'Clear' }).click();

    await page.screenshot({ path: testInfo.outputPath('messages.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  test('a large body is a preview in the stream and threads; the whole body is shown or downloaded on request', async ({ page, hub }) => {
    const problems = watchConsole(page);
    const alpha = await TestAgent.connect(hub, { name: 'alpha' });
    const beta = await TestAgent.connect(hub, { name: 'beta' });
    // One over the preview (kept in its row), one over messages.bodyFileBytes (kept in a file, too big to show).
    const medium = `medium-start ${'a line of a longer report\n'.repeat(800)}medium-end`;
    const large = `large-start ${'x'.repeat(3 * 1024 * 1024)} large-end`;
    const mediumSent = await alpha.send(beta, medium, { subject: 'report' });
    const largeSent = await alpha.send(beta, large, { subject: 'dump' });
    await openCockpit(page, hub, 'messages');

    const stream = page.getByTestId('message-stream');
    await expect(stream.locator(`[data-message-id="${largeSent.id}"]`)).toContainText('3 MB');
    await stream.locator(`[data-message-id="${mediumSent.id}"]`).click();
    const thread = page.getByTestId('thread-panel');
    await expect(thread.getByTestId('thread-message')).toContainText('medium-start');
    await expect(thread.getByTestId('thread-message')).not.toContainText('medium-end');
    await thread.getByTestId('full-body').click();
    await expect(thread.getByTestId('thread-message')).toContainText('medium-end');
    await expect(thread.getByTestId('body-preview-note')).toHaveCount(0);

    await stream.locator(`[data-message-id="${largeSent.id}"]`).click();
    await expect(thread.getByTestId('thread-message')).toContainText('large-start');
    await expect(thread.getByTestId('full-body')).toHaveText('Download full body (3 MB)');
    const [download] = await Promise.all([page.waitForEvent('download'), thread.getByTestId('full-body').click()]);
    expect(download.suggestedFilename()).toBe(`message-${largeSent.id}.json`);
    const chunks: Buffer[] = [];
    for await (const chunk of (await download.createReadStream())!) chunks.push(chunk as Buffer);
    expect(JSON.parse(Buffer.concat(chunks).toString('utf8'))).toBe(large);
    expect(problems).toEqual([]);
  });

  test('the overview charts move with a burst of traffic', async ({ page, hub }, testInfo) => {
    const problems = watchConsole(page);
    const alpha = await TestAgent.connect(hub, { name: 'alpha', tier: 'strategic' });
    const beta = await TestAgent.connect(hub, { name: 'beta' });
    await TestAgent.connect(hub, { name: 'gamma', tier: 'memory' });
    await openCockpit(page, hub, 'overview');

    await expect(page.getByTestId('stat-agents-online')).toContainText('3');
    await expect(page.getByTestId('chart-tiers')).toBeVisible();
    const chart = page.getByTestId('chart-throughput');
    await expect(chart).toHaveAttribute('data-points', /[1-9]/);
    await expect(chart).toHaveAttribute('data-max', '0');

    for (let second = 0; second < 3; second++) {
      await alpha.burst(beta, 400);
      await page.waitForTimeout(300);
    }
    await expect.poll(async () => Number(await chart.getAttribute('data-max')), { timeout: 5000 }).toBeGreaterThan(0);
    await expect(chart.locator('.recharts-area-curve, .recharts-line-curve').first()).toBeVisible();
    await expect(page.getByTestId('stat-sent-rate')).not.toHaveText('0/s', { timeout: 3000 });
    await expect(page.getByTestId('stat-deliver-p99')).not.toHaveText('—');
    await expect(page.getByTestId('chart-latency')).not.toHaveAttribute('data-max', '0');

    await page.waitForTimeout(1200);
    await page.screenshot({ path: testInfo.outputPath('overview.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  test('a memory an agent stored is found from the Memory view, with its scores', async ({ page, hub }, testInfo) => {
    test.setTimeout(180_000);
    const problems = watchConsole(page);
    const alpha = await TestAgent.connect(hub, { name: 'alpha', project: 'payments' });
    const beta = await TestAgent.connect(hub, { name: 'beta', project: 'search' });
    await alpha.storeMemory('We chose SQLite with WAL mode for the message store because it survives crashes without a server.', 'decision');
    await alpha.storeMemory('The flaky checkout test fails when the fixture clock crosses midnight.', 'error');
    await beta.storeMemory('Reindexing the vector store takes about four minutes on the CI runner.', 'fact');
    await beta.storeMemory('Remember to rotate the staging API keys every month.', 'task');

    await openCockpit(page, hub, 'memory');
    await expect(page.getByTestId('memory-total')).toHaveText('4', { timeout: 60_000 });
    await expect(page.getByTestId('memory-index')).toContainText('Dimension');

    await page.getByTestId('memory-query').fill('why did we pick sqlite for messages');
    await page.getByTestId('memory-search').click();
    const results = page.getByTestId('memory-results');
    const top = results.getByTestId('memory-hit').first();
    await expect(top).toContainText('We chose SQLite with WAL mode', { timeout: 30_000 });
    await expect(top).toContainText('payments');
    await expect(top).toContainText('by alpha');
    const scores = top.getByTestId('memory-scores');
    for (const label of ['final', 'relevance', 'vector', 'keyword', 'importance', 'recency']) await expect(scores).toContainText(label);
    await expect(results.getByTestId('memory-no-good-match')).toHaveCount(0);

    // A question nothing stored answers says so, and flags its hits as weak matches.
    await page.getByTestId('memory-query').fill('how tall is Mount Everest');
    await page.getByTestId('memory-search').click();
    await expect(results.getByTestId('memory-no-good-match')).toBeVisible({ timeout: 30_000 });
    await expect(results.getByTestId('memory-hit').first()).toContainText('weak match');
    await page.getByTestId('memory-query').fill('why did we pick sqlite for messages');
    await page.getByTestId('memory-search').click();
    await expect(top).toContainText('We chose SQLite with WAL mode');

    // The kind filter narrows the hits.
    await page.getByRole('button', { name: 'task', exact: true }).click();
    await page.getByTestId('memory-search').click();
    await expect(results.getByTestId('memory-hit')).toHaveCount(1);
    await expect(results.getByTestId('memory-hit')).toContainText('rotate the staging API keys');
    await page.getByRole('button', { name: 'task', exact: true }).click();
    await page.getByTestId('memory-search').click();
    await expect(top).toContainText('We chose SQLite with WAL mode');

    // A newer value supersedes the old one: search shows the current memory, marked as an update; history on request.
    await alpha.storeMemory('The checkout API timeout is 30 seconds.', 'fact');
    const update = await alpha.storeMemory('The checkout API timeout is 45 seconds.', 'fact');
    expect(update.stored[0].outcome).toBe('supersedes');
    await page.getByTestId('memory-query').fill('checkout API timeout');
    await page.getByTestId('memory-search').click();
    await expect(top).toContainText('45 seconds');
    await expect(top.getByTestId('memory-supersedes')).toBeVisible();
    await expect(results.getByText('30 seconds')).toHaveCount(0);
    await page.getByTestId('memory-history').check();
    await page.getByTestId('memory-search').click();
    const old = results.getByTestId('memory-hit').filter({ hasText: '30 seconds' });
    await expect(old.getByTestId('memory-superseded')).toBeVisible();

    await page.screenshot({ path: testInfo.outputPath('memory.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  test('the performance view shows histograms, per-op latency and the slowest operations', async ({ page, hub }, testInfo) => {
    const problems = watchConsole(page);
    const alpha = await TestAgent.connect(hub, { name: 'alpha' });
    const beta = await TestAgent.connect(hub, { name: 'beta' });
    await openCockpit(page, hub, 'performance');
    await expect(page.getByTestId('op-send')).toContainText('No send yet');

    await alpha.burst(beta, 500);
    await expect(page.getByTestId('histogram-send')).toHaveAttribute('data-bars', /[1-9]/, { timeout: 8000 });
    await expect(page.getByTestId('histogram-deliver')).toHaveAttribute('data-bars', /[1-9]/, { timeout: 8000 });
    await expect(page.getByTestId('op-send').locator('.figure-value').first()).toHaveText('500');
    await expect(page.getByTestId('panel-slowest').locator('tbody tr').first()).toBeVisible({ timeout: 3000 });
    await expect(page.getByTestId('panel-storage')).toContainText('messages');
    await expect(page.getByTestId('chart-perf-throughput')).not.toHaveAttribute('data-max', '0', { timeout: 3000 });

    await page.waitForTimeout(1500);
    await page.screenshot({ path: testInfo.outputPath('performance.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  test('stays smooth with 1,000 messages a second flowing', async ({ page, hub }, testInfo) => {
    test.setTimeout(90_000);
    const problems = watchConsole(page);
    const alpha = await TestAgent.connect(hub, { name: 'alpha' });
    const beta = await TestAgent.connect(hub, { name: 'beta' });
    await openCockpit(page, hub, 'messages');
    await expect(page.getByTestId('stream-empty')).toBeVisible();

    // Measure the longest gap between animation frames while the flood runs.
    await page.evaluate(() => {
      const w = window as unknown as { __maxFrameGap: number; __frames: number };
      w.__maxFrameGap = 0;
      w.__frames = 0;
      let last = performance.now();
      const loop = (now: number) => {
        w.__maxFrameGap = Math.max(w.__maxFrameGap, now - last);
        w.__frames++;
        last = now;
        requestAnimationFrame(loop);
      };
      requestAnimationFrame(loop);
    });

    const seconds = 6;
    const started = Date.now();
    for (let s = 0; s < seconds; s++) {
      const tickStart = Date.now();
      // 10 slices of 100 a second, like agents chattering rather than one block.
      for (let slice = 0; slice < 10; slice++) {
        await Promise.all([alpha.burst(beta, 50, (i) => `load ${s}.${slice}.${i}`), beta.burst(alpha, 50, (i) => `load back ${s}.${slice}.${i}`)]);
        const due = tickStart + (slice + 1) * 100;
        if (Date.now() < due) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
      }
    }
    const rate = (seconds * 1000) / ((Date.now() - started) / 1000);

    const stats = await page.evaluate(() => {
      const w = window as unknown as { __maxFrameGap: number; __frames: number };
      return { maxFrameGap: w.__maxFrameGap, frames: w.__frames };
    });
    const rowsInDom = await page.getByTestId('message-row').count();
    const shown = Number((await page.getByTestId('stream-count').textContent())!.split(' ')[0]);
    testInfo.annotations.push({ type: 'load', description: `${Math.round(rate)} msg/s sent; longest frame gap ${Math.round(stats.maxFrameGap)} ms; ${stats.frames} frames; ${rowsInDom} rows in the DOM; ${shown} kept` });

    expect(rate).toBeGreaterThan(800);
    expect(shown).toBeLessThanOrEqual(500);
    expect(shown).toBeGreaterThan(100);
    // Only a screenful of rows is mounted, however long the stream.
    expect(rowsInDom).toBeLessThan(80);
    // The page kept painting: no frame gap long enough for a person to call it frozen.
    expect(stats.maxFrameGap).toBeLessThan(1000);
    // Throughput shows on the overview after the flood.
    await page.getByTestId('nav-overview').click();
    await expect(page.getByTestId('chart-throughput')).not.toHaveAttribute('data-max', '0');
    await page.getByTestId('nav-messages').click();
    await expect(page.getByTestId('message-row').first()).toBeVisible();
    expect(problems).toEqual([]);
  });

  test('navigation: every view is reachable from the sidebar', async ({ page, hub }, testInfo) => {
    const problems = watchConsole(page);
    await openCockpit(page, hub, '');
    await expect(page.getByTestId('view-overview')).toBeVisible();
    for (const view of ['agents', 'connect', 'reservations', 'workflows', 'tasks', 'messages', 'memory', 'performance', 'backup', 'status', 'overview']) {
      await page.getByTestId(`nav-${view}`).click();
      await expect(page).toHaveURL(new RegExp(`#/${view}$`));
      await expect(page.getByTestId(`nav-${view}`)).toHaveAttribute('aria-current', 'page');
    }
    // Empty states say what to do next.
    await page.getByTestId('nav-reservations').click();
    await expect(page.getByTestId('reservations-empty')).toContainText('No file is reserved');
    await page.getByTestId('nav-workflows').click();
    await expect(page.getByTestId('wf-runs-empty')).toContainText('No workflow has run yet');
    await page.getByTestId('nav-tasks').click();
    await expect(page.getByTestId('tasks-waiting-empty')).toContainText('No work is waiting');
    await page.getByTestId('nav-messages').click();
    await expect(page.getByTestId('stream-empty')).toContainText('No messages yet');
    await page.getByTestId('nav-status').click();
    await expect(page.getByTestId('status-runtime')).toHaveText('Headless (Node)');
    await page.screenshot({ path: testInfo.outputPath('status.png'), fullPage: true });
    // Reloading keeps the view (hash routing) and the session (the token moved to session storage).
    await page.reload();
    await expect(page.getByTestId('view-status')).toBeVisible();
    await expect(page.getByTestId('connection')).toHaveText('connected');
    expect(problems).toEqual([]);
  });
});
