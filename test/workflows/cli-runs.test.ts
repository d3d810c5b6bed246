/**
 * Running workflows from each surface against a real hub: `devenviro workflow run | list | show | approve | cancel |
 * retry` (child processes from the source, a YAML definition), the client library's workflow calls, and the MCP
 * tools start_workflow, get_workflow, list_workflows and approve_step. Agents are real clients on sockets.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HubClient, type AgentClient } from '../../src/client';
import type { WorkflowRun } from '../../src/shared/workflow-run-protocol';
import { runCli, startCli } from '../client/cli-run';
import { startHub as startClientHub } from '../client/hub';
import { tempDir } from '../helpers';
import { startHub } from '../hub/harness';
import { call, connect } from '../mcp/mcp-client';

/** The release-notes example of docs/workflows.md, in YAML. */
const RELEASE_NOTES = `name: release-notes
input:
  files: [src/cart.ts, src/checkout.ts, src/pay.ts]
  version: 2.4.0
steps:
  summarise:
    kind: fan-out
    items: { $ref: input.files }
    concurrency: 2
    task:
      title: Summarise one file's changes
      capabilities: [code]
      input: { file: { $ref: item }, version: { $ref: input.version } }
  draft:
    kind: fan-in
    dependsOn: [summarise]
    aggregate:
      use: task
      task:
        title: Draft the release notes
        tier: strategic
        input: { version: { $ref: input.version }, summaries: { $ref: results } }
  approve:
    kind: approval
    dependsOn: [draft]
    prompt: Publish these release notes?
    subject: { $ref: steps.draft.result }
  publish:
    kind: task
    dependsOn: [approve]
    title: Publish the release notes
    capabilities: [docs]
    input: { notes: { $ref: steps.approve.result } }
`;

/** Waits until an asynchronous condition holds, asking every 100 ms. */
async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An agent that completes each pushed task with `work(task)`. */
async function agentAt(url: string, name: string, options: Parameters<typeof HubClient.register>[0], work: (input: any, title: string) => unknown): Promise<AgentClient> {
  const agent = await HubClient.register({ ...options, name, url });
  agent.on('taskOffered', (task) => {
    void agent.completeTask(task.id, { json: work(task.input, task.title) as Record<string, unknown> });
  });
  agent.takeTasks(2);
  await agent.connect();
  return agent;
}

describe('running workflows', { timeout: 180_000 }, () => {
  it('devenviro workflow run (YAML), show, list, approve as the person at the machine, and the run ends succeeded', async () => {
    const dataDir = tempDir();
    const hub = await startClientHub(dataDir);
    const saved = { project: 'shop', dataDir, persist: true } as const;
    const lead = await agentAt(hub.url, 'lead', { ...saved, name: 'lead', tier: 'strategic' }, (input) => ({ notes: `v${input.version}: ${input.summaries.length} files` }));
    const dev = await agentAt(hub.url, 'dev', { ...saved, name: 'dev', capabilities: ['code', 'docs'] }, (input, title) => (title.startsWith('Publish') ? { published: true } : { file: input.file }));
    const cli = (args: string[]) => runCli([...args, '--data-dir', dataDir]);
    const file = path.join(dataDir, 'release-notes.yaml');
    writeFileSync(file, RELEASE_NOTES);

    const started = await cli(['workflow', 'run', file, '--as', 'lead']);
    expect(started.stderr).toContain('Started release-notes in project shop: 4 steps.');
    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    await until(async () => (await lead.getWorkflow(id)).stepRuns.find((s) => s.id === 'approve')!.state === 'awaiting_approval', 60_000, 'the gate');

    // No --as with two saved agents: the person at this machine, with the cockpit's token.
    const shown = await cli(['workflow', 'show', id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`release-notes  ${id}  running  (project shop, started by lead`);
    expect(shown.stdout).toMatch(/summarise\s+fan-out\s+succeeded\s+3\/3\s+dev/);
    expect(shown.stdout).toMatch(/draft\s+fan-in\s+succeeded\s+1\/1\s+lead/);
    expect(shown.stdout).toMatch(/approve\s+approval\s+awaiting_approval/);
    expect(shown.stdout).toMatch(/publish\s+task\s+waiting/);
    expect(shown.stdout).toContain('approve waits for approval (either): Publish these release notes?');
    expect(shown.stdout).toContain('"notes": "v2.4.0: 3 files"');
    expect(shown.stdout).toContain(`decide: devenviro workflow approve ${id} approve`);

    const listed = await cli(['workflow', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+release-notes\\s+running\\s+2/4\\s+.*approve: awaiting approval`));

    const approved = await cli(['workflow', 'approve', id, 'approve', '--edit', '{"notes":"2.4.0: a faster checkout"}', '--note', 'shorter']);
    expect(approved.stderr).toContain('Step approve of release-notes approved as edited');
    await until(async () => (await lead.getWorkflow(id)).state === 'succeeded', 60_000, 'the run to succeed');
    const run = await lead.getWorkflow(id);
    expect(run.stepRuns.find((s) => s.id === 'approve')!.approval!.decision).toMatchObject({ decision: 'edit', by: 'cockpit', note: 'shorter' });
    const published = await dev.task(run.stepRuns.find((s) => s.id === 'publish')!.taskIds[0]!);
    expect(published.input).toEqual({ notes: { notes: '2.4.0: a faster checkout' } });
    const finalShow = await cli(['workflow', 'show', id, '--as', 'dev']);
    expect(finalShow.stdout).toMatch(/approve\s+approval\s+succeeded\s+-\s+-\s+edit by cockpit: shorter/);
    expect(finalShow.stdout).toContain('result: {');

    // A YAML mistake names its line and column, and nothing runs.
    const bad = path.join(dataDir, 'bad.yaml');
    writeFileSync(bad, 'name: broken\nsteps:\n  a: { kind: task, title: [x\n');
    const refused = await cli(['workflow', 'run', bad, '--as', 'lead']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/bad\.yaml is not valid YAML \(line \d+, column \d+\)/);
    // An invalid definition: every problem with its step, exit 1.
    writeFileSync(bad, JSON.stringify({ name: 'nobody', steps: { deploy: { kind: 'task', title: 'deploy', capabilities: ['deploy'] } } }));
    const invalid = await cli(['workflow', 'run', bad, '--as', 'lead']);
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toMatch(/deploy\s+no_capable_agent/);
    expect((await lead.listWorkflows()).map((w) => w.name)).toEqual(['release-notes']);
    await Promise.all([lead.close(), dev.close()]);
  });

  it('--wait follows a run to a rejected gate (exit 1); cancel and retry; --input replaces the input', async () => {
    const dataDir = tempDir();
    const hub = await startClientHub(dataDir);
    const saved = { project: 'shop', dataDir, persist: true } as const;
    const lead = await agentAt(hub.url, 'lead', { ...saved, name: 'lead', tier: 'strategic' }, (input) => ({ notes: `v${input.version}` }));
    const dev = await agentAt(hub.url, 'dev', { ...saved, name: 'dev', capabilities: ['code', 'docs'] }, (input) => ({ file: input?.file ?? null }));
    const cli = (args: string[]) => runCli([...args, '--data-dir', dataDir]);
    const file = path.join(dataDir, 'release-notes.yaml');
    writeFileSync(file, RELEASE_NOTES);

    // Followed as it runs: the gate is decided only once the command has said it waits for a decision.
    const child = startCli(['workflow', 'run', file, '--wait', '--input', '{"files": ["a.ts"], "version": "3.0.0"}', '--as', 'lead', '--data-dir', dataDir]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.stdin.end();
    const waiting = new Promise<{ code: number | null; stdout: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout })));
    await until(async () => stdout.includes('waiting for a decision'), 60_000, 'the command to show the gate');
    const [latest] = await lead.listWorkflows();
    const runId = latest!.id;
    expect(latest!.awaitingApproval).toEqual(['approve']);
    expect((await lead.getWorkflow(runId)).definition.input).toEqual({ files: ['a.ts'], version: '3.0.0' });
    // The strategic lead rejects through the client library.
    await lead.approveStep(runId, 'approve', { decision: 'reject', note: 'not yet' });
    const followed = await waiting;
    expect(stderr).toBe('');
    expect(followed.code).toBe(1);
    expect(followed.stdout).toContain(`Started release-notes (${runId}) in project shop: 4 steps`);
    expect(followed.stdout).toContain(`waiting for a decision: devenviro workflow approve ${runId} approve`);
    expect(followed.stdout).toMatch(/summarise: succeeded \(items 1\/1, by dev/);
    expect(followed.stdout).toMatch(/release-notes failed/);

    // Retry the rejected gate: it opens again; then cancel the run.
    const retried = await cli(['workflow', 'retry', runId, 'approve', '--as', 'lead']);
    expect(retried.stderr).toContain('Step approve of release-notes runs again; the workflow is running.');
    const cancelled = await cli(['workflow', 'cancel', runId, '--reason', 'release moved', '--as', 'lead']);
    expect(cancelled.stderr).toContain('is cancelled');
    expect((await lead.getWorkflow(runId)).state).toBe('cancelled');
    const again = await cli(['workflow', 'cancel', runId, '--as', 'lead']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('workflow_finished');
    await Promise.all([lead.close(), dev.close()]);
  });

  it('the MCP tools start_workflow, get_workflow, list_workflows and approve_step', async () => {
    const hub = await startHub();
    const lead = await hub.register('lead', { tier: 'strategic' });
    const dev = await hub.register('dev', { capabilities: ['code'] });
    const { client } = await connect(hub, lead.token);
    const { client: devMcp } = await connect(hub, dev.token);
    const definition = {
      name: 'gate',
      input: { text: 'hello' },
      steps: {
        write: { kind: 'task', title: 'write', capabilities: ['code'], input: { text: { $ref: 'input.text' } } },
        check: { kind: 'approval', dependsOn: ['write'], prompt: 'ok?', approvers: 'strategic', subject: { $ref: 'steps.write.result' } },
      },
    };
    const started = await call(client, 'start_workflow', { definition, input: { text: 'hi' } });
    expect(started.isError).toBeFalsy();
    const run = (started.structuredContent as { workflow: WorkflowRun }).workflow;
    expect(run).toMatchObject({ name: 'gate', project: 'test', state: 'running' });

    const claimed = await hub.api(`/agents/${dev.agent.id}/tasks/next`, { token: dev.token, body: {} });
    expect(claimed.body.task.input).toEqual({ text: 'hi' });
    await hub.api(`/tasks/${claimed.body.task.id}/complete`, { token: dev.token, body: { json: { said: 'hi' } } });
    await until(async () => {
      const got = (await call(client, 'get_workflow', { workflowId: run.id })).structuredContent as { workflow: WorkflowRun };
      return got.workflow.stepRuns.find((s) => s.id === 'check')!.state === 'awaiting_approval';
    }, 20_000, 'the gate');
    const listed = (await call(client, 'list_workflows')).structuredContent as { workflows: Array<{ id: string; awaitingApproval: string[] }> };
    expect(listed.workflows).toEqual([expect.objectContaining({ id: run.id, awaitingApproval: ['check'] })]);

    // Only a strategic agent may decide this gate: the developer is refused, the lead approves.
    const refused = await call(devMcp, 'approve_step', { workflowId: run.id, stepId: 'check', decision: 'approve' });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain('not_an_approver');
    const approved = await call(client, 'approve_step', { workflowId: run.id, stepId: 'check', decision: 'edit', value: { said: 'hello' } });
    expect(approved.isError).toBeFalsy();
    await until(async () => ((await call(client, 'get_workflow', { workflowId: run.id })).structuredContent as { workflow: WorkflowRun }).workflow.state === 'succeeded', 20_000, 'success');
    const done = ((await call(client, 'get_workflow', { workflowId: run.id })).structuredContent as { workflow: WorkflowRun }).workflow;
    expect(done.result).toEqual({ said: 'hello' });
    const badEdit = await call(client, 'approve_step', { workflowId: run.id, stepId: 'check', decision: 'edit' });
    expect(badEdit.isError).toBe(true);
  });
});
