/**
 * `devenviro workflow run | list | show | cancel | approve | retry`: running workflows from a shell. Definitions may be
 * JSON or YAML; `show` prints a run for people: its steps with their states, item counts, agents and why they wait,
 * an open approval with the command that decides it, and the result.
 */
import type { AgentInfo } from '../../shared/agent-protocol';
import type { ApprovalDecision, WorkflowProblem } from '../../shared/workflow-protocol';
import {
  isFinalWorkflowState,
  WORKFLOW_STATES,
  WORKFLOWS_PATH,
  workflowApprovePath,
  workflowCancelPath,
  workflowPath,
  workflowRetryPath,
  type WorkflowList,
  type WorkflowRun,
  type WorkflowState,
  type WorkflowStepRun,
} from '../../shared/workflow-run-protocol';
import { apiRoute, HubClientError, type HubHttp } from '../client';
import { positiveInt, UsageError, type Context } from './command';
import { readDocument } from './documents';
import { readerHttp } from './hub';
import { ago, count, oneLine, table } from './output';

export const RUN_ACTIONS = {
  run: {
    summary: 'start a workflow from its definition (JSON or YAML); --wait follows it to its end',
    usage: 'devenviro workflow run <file.json | file.yaml | -> [--input JSON | --input @file] [--wait] [--json]',
    details: `Starts the workflow in your project (as the agent you speak for, or as the person at this machine with the
cockpit's token when no agent is saved). --input replaces the definition's input. The definition is checked first:
a problem (a cycle, a step no agent can run) is printed with its step and nothing runs. --wait prints each step as
its state changes, says when an approval waits for you, and exits 0 when the workflow succeeded, 1 otherwise.`,
  },
  list: { summary: 'the workflows of your project, newest first', usage: 'devenviro workflow list [--state S] [--limit N] [--json]' },
  show: {
    summary: 'one workflow: its steps, their states, items and agents, open approvals, what waits and why',
    usage: 'devenviro workflow show <id> [--json]',
  },
  cancel: { summary: 'cancel a running workflow: its active tasks are cancelled and their agents told', usage: 'devenviro workflow cancel <id> [--reason T]' },
  approve: {
    summary: 'decide an approval gate: approve it, --reject it, or --edit its subject',
    usage: 'devenviro workflow approve <id> <step> [--reject | --edit JSON|@file] [--note T]',
  },
  retry: { summary: 'run a failed, timed-out or cancelled step again', usage: 'devenviro workflow retry <id> <step>' },
};

export const RUN_OPTIONS = {
  input: { type: 'string' },
  wait: { type: 'boolean' },
  state: { type: 'string' },
  limit: { type: 'string' },
  reason: { type: 'string' },
  reject: { type: 'boolean' },
  edit: { type: 'string' },
  note: { type: 'string' },
} as const;

export async function runAction(ctx: Context, action: keyof typeof RUN_ACTIONS, args: string[]): Promise<number | void> {
  const http = await readerHttp(ctx);
  switch (action) {
    case 'run':
      return start(ctx, http, args);
    case 'list':
      return list(ctx, http, args);
    case 'show': {
      const [id] = exactly(ctx, args, ['id']) as [string];
      const run = await http.request<WorkflowRun>('GET', apiRoute(workflowPath(id)));
      if (ctx.json) return void ctx.out(JSON.stringify(run, null, 2));
      ctx.out(describeRun(run, await names(http)));
      return;
    }
    case 'cancel': {
      const [id] = exactly(ctx, args, ['id']) as [string];
      const reason = ctx.values.reason as string | undefined;
      const run = await http.request<WorkflowRun>('POST', apiRoute(workflowCancelPath(id)), { body: reason === undefined ? {} : { reason } });
      if (ctx.json) return void ctx.out(JSON.stringify(run, null, 2));
      ctx.note(`Workflow ${run.name} (${run.id}) is ${run.state}.`);
      return;
    }
    case 'approve': {
      const [id, step] = exactly(ctx, args, ['id', 'step']) as [string, string];
      const decision = await decisionOf(ctx);
      const run = await http.request<WorkflowRun>('POST', apiRoute(workflowApprovePath(id, step)), { body: decision });
      if (ctx.json) return void ctx.out(JSON.stringify(run, null, 2));
      const done = { approve: 'approved', reject: 'rejected', edit: 'approved as edited' }[decision.decision];
      ctx.note(`Step ${step} of ${run.name} ${done}; the workflow is ${run.state}.`);
      return;
    }
    case 'retry': {
      const [id, step] = exactly(ctx, args, ['id', 'step']) as [string, string];
      const run = await http.request<WorkflowRun>('POST', apiRoute(workflowRetryPath(id, step)), { body: {} });
      if (ctx.json) return void ctx.out(JSON.stringify(run, null, 2));
      ctx.note(`Step ${step} of ${run.name} runs again; the workflow is ${run.state}.`);
      return;
    }
  }
}

async function start(ctx: Context, http: HubHttp, args: string[]): Promise<number | void> {
  const [file] = exactly(ctx, args, ['file']) as [string];
  const definition = await readDocument(file, ctx.io.stdin);
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) throw new Error(`${file}: a workflow definition is an object (name, steps, ...)`);
  const input = ctx.values.input as string | undefined;
  if (input !== undefined) (definition as Record<string, unknown>).input = await readDocument(input, ctx.io.stdin);
  let run: WorkflowRun;
  try {
    run = await http.request<WorkflowRun>('POST', apiRoute(WORKFLOWS_PATH), { body: definition });
  } catch (error) {
    const problems = error instanceof HubClientError ? (error.body as { problems?: WorkflowProblem[] } | undefined)?.problems : undefined;
    if (!problems) throw error;
    if (ctx.json) ctx.out(JSON.stringify(error instanceof HubClientError ? error.body : {}, null, 2));
    else ctx.out(table([['STEP', 'CODE', 'PROBLEM'], ...problems.map((p) => [p.step ?? '-', p.code, p.message])]));
    ctx.note(`devenviro workflow run: ${count(problems.length, 'problem')}; nothing was run`);
    return 1;
  }
  if (ctx.values.wait !== true) {
    if (ctx.json) return void ctx.out(JSON.stringify(run, null, 2));
    ctx.out(run.id);
    ctx.note(`Started ${run.name} in project ${run.project}: ${count(run.stepRuns.length, 'step')}. \`devenviro workflow show ${run.id}\` shows it.`);
    return;
  }
  if (!ctx.json) ctx.out(`Started ${run.name} (${run.id}) in project ${run.project}: ${count(run.stepRuns.length, 'step')}`);
  const agentNames = await names(http);
  const seen = new Map<string, string>();
  for (;;) {
    if (!ctx.json) {
      for (const step of run.stepRuns) {
        const line = stepLine(step, agentNames);
        if (seen.get(step.id) === line) continue;
        seen.set(step.id, line);
        ctx.out(`  ${line}`);
        if (step.state === 'awaiting_approval') ctx.out(`    waiting for a decision: devenviro workflow approve ${run.id} ${step.id} [--reject | --edit JSON]`);
      }
    }
    if (isFinalWorkflowState(run.state)) break;
    await new Promise((resolve) => setTimeout(resolve, 300));
    run = await http.request<WorkflowRun>('GET', apiRoute(workflowPath(run.id)));
  }
  if (ctx.json) ctx.out(JSON.stringify(run, null, 2));
  else {
    ctx.out(`${run.name} ${run.state}${run.error ? `: ${run.error}` : ''}`);
    if (run.result !== undefined) ctx.out(`result: ${JSON.stringify(run.result, null, 2)}`);
  }
  return run.state === 'succeeded' ? undefined : 1;
}

async function list(ctx: Context, http: HubHttp, args: string[]): Promise<void> {
  if (args.length > 0) throw new UsageError('workflow list takes no arguments', ctx.command);
  const state = ctx.values.state as string | undefined;
  if (state !== undefined && !(WORKFLOW_STATES as readonly string[]).includes(state)) throw new UsageError(`--state must be one of ${WORKFLOW_STATES.join(', ')}`, ctx.command);
  const { workflows } = await http.request<WorkflowList>('GET', apiRoute(WORKFLOWS_PATH), {
    query: { ...(state ? { state: state as WorkflowState } : {}), limit: positiveInt(ctx, 'limit', 50) },
  });
  if (ctx.json) return void ctx.out(JSON.stringify(workflows, null, 2));
  if (workflows.length === 0) return void ctx.note('No workflows.');
  const rows = workflows.map((w) => {
    const total = Object.values(w.steps).reduce((sum, n) => sum + n, 0);
    const attention = [
      ...w.awaitingApproval.map((step) => `${step}: awaiting approval`),
      ...w.waiting.map((wait) => `${wait.stepId}: ${wait.reason}`),
    ].join('; ');
    return [w.id, w.name, w.state, `${w.steps.succeeded}/${total}`, ago(Date.now() - Date.parse(w.createdAt)), oneLine(attention || w.error || '')];
  });
  ctx.out(table([['ID', 'NAME', 'STATE', 'DONE', 'STARTED', 'ATTENTION'], ...rows]));
}

/** A run for people: head, one row per step, then open approvals, waiting work and the result. */
export function describeRun(run: WorkflowRun, agentNames: Map<string, string>): string {
  const who = run.createdBy === 'cockpit' ? 'the cockpit' : (agentNames.get(run.createdBy) ?? run.createdBy);
  const lines = [`${run.name}  ${run.id}  ${run.state}  (project ${run.project}, started by ${who} ${ago(Date.now() - Date.parse(run.createdAt))})`];
  if (run.error) lines.push(`error: ${run.error}`);
  lines.push(
    '',
    table([
      ['STEP', 'KIND', 'STATE', 'ITEMS', 'AGENTS', 'NOTE'],
      ...run.stepRuns.map((step) => [step.id, step.kind, step.state, items(step), step.agents.map((id) => agentNames.get(id) ?? id).join(', ') || '-', oneLine(note(step)).slice(0, 90)]),
    ]),
  );
  for (const step of run.stepRuns) {
    if (step.state !== 'awaiting_approval' || !step.approval) continue;
    lines.push('', `${step.id} waits for approval (${step.approval.approvers}): ${step.approval.prompt}`);
    if (step.approval.subject !== undefined) lines.push(...indent(`subject: ${JSON.stringify(step.approval.subject, null, 2)}`));
    lines.push(`  decide: devenviro workflow approve ${run.id} ${step.id} [--reject | --edit JSON]`);
  }
  if (run.result !== undefined) lines.push('', `result: ${JSON.stringify(run.result, null, 2)}`);
  return lines.join('\n');
}

function stepLine(step: WorkflowStepRun, agentNames: Map<string, string>): string {
  const agents = step.agents.map((id) => agentNames.get(id) ?? id).join(', ');
  const detail = [step.items.total > 1 || step.kind === 'fan-out' ? `items ${items(step)}` : '', agents ? `by ${agents}` : '', note(step)].filter(Boolean).join(', ');
  return `${step.id}: ${step.state}${detail ? ` (${oneLine(detail).slice(0, 120)})` : ''}`;
}

/** Items done of all ("2/3 done"), with the active and queued ones when there are. */
function items(step: WorkflowStepRun): string {
  const { total, succeeded, failed, active, queued } = step.items;
  if (total === 0) return '-';
  const extra = [active ? `${active} active` : '', queued ? `${queued} queued` : '', failed ? `${failed} failed` : ''].filter(Boolean);
  return `${succeeded}/${total}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

function note(step: WorkflowStepRun): string {
  if (step.error) return step.error;
  if (step.waiting) return `waiting: ${step.waiting}`;
  if (step.approval?.decision) {
    const { decision, by, note: said } = step.approval.decision;
    return `${decision} by ${by}${said ? `: ${said}` : ''}`;
  }
  return step.title ?? '';
}

async function decisionOf(ctx: Context): Promise<ApprovalDecision> {
  const edit = ctx.values.edit as string | undefined;
  const reject = ctx.values.reject === true;
  if (edit !== undefined && reject) throw new UsageError('--reject and --edit do not go together', ctx.command);
  const note = ctx.values.note as string | undefined;
  const base = note === undefined ? {} : { note };
  if (reject) return { decision: 'reject', ...base };
  if (edit !== undefined) {
    return { decision: 'edit', value: await editedValue(edit, ctx.io.stdin), ...base };
  }
  return { decision: 'approve', ...base };
}

/** --edit: a document (@file, - for standard input, or JSON), else the text as given. */
async function editedValue(edit: string, stdin: NodeJS.ReadableStream): Promise<unknown> {
  if (edit.startsWith('@') || edit === '-') return readDocument(edit, stdin);
  try {
    return JSON.parse(edit) as unknown;
  } catch {
    return edit;
  }
}

/** Agent ids to names, for the agents the caller may see (none when it may not list them). */
async function names(http: HubHttp): Promise<Map<string, string>> {
  try {
    const { agents } = await http.request<{ agents: AgentInfo[] }>('GET', '/agents');
    return new Map(agents.map((agent) => [agent.id, agent.name]));
  } catch {
    return new Map();
  }
}

function exactly(ctx: Context, args: string[], what: string[]): string[] {
  if (args.length !== what.length) throw new UsageError(`${ctx.command} needs ${what.join(' and ')}`, ctx.command);
  return args;
}

function indent(text: string): string[] {
  return text.split('\n').map((line) => `  ${line}`);
}
