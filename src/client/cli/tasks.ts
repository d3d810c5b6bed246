/** `devenviro task`: create tasks, take the next one, report it done or failed, show and list them. */
import { readFile } from 'node:fs/promises';
import { TASK_STATES, TaskResultRef, type CreateTaskRequest, type Task, type TaskState, type TaskSubtasks } from '../../shared/task-protocol';
import type { SplitTaskRequest } from '../../shared/subtask-protocol';
import { AGGREGATORS, type AggregatorName } from '../../shared/workflow-protocol';
import type { AgentClient } from '../client';
import { positiveInt, readAll, UsageError, type Command, type Context } from './command';
import { readDocument } from './documents';
import { count, oneLine, table } from './output';

/** The aggregators a split may use (not `task`: a split's results go back to its holder). */
const AGGREGATE_NAMES = AGGREGATORS;

const REF_KINDS = TaskResultRef.shape.kind.options;

export const task: Command = {
  summary: 'tasks: create one, take the next, report it done or failed, show and list them',
  usage: `devenviro task create <title> [--instructions T] [--input JSON|-] [--capability C]... [--depends-on ID]... [--priority 0..100] [--json]
       devenviro task next [--capability C]... [--json]
       devenviro task done <id> [--text T] [--result JSON|-] [--ref kind:ref]... [--json]
       devenviro task fail <id> <message> [--code C] [--final] [--json]
       devenviro task split <id> <subtasks.json|.yaml | JSON | -> [--aggregate A] [--wait] [--json]
       devenviro task show <id> [--json]
       devenviro task list [--state S] [--limit N] [--json]`,
  details: `create: a task in your project; it is ready once the tasks it depends on have succeeded, and the hub gives
it to a present agent with every --capability. next: takes the best ready task you may run (it is then yours and
running) and prints it; exit 1 and the reason when there is none. done: completes your task with a result (text,
JSON, and references such as file:src/a.ts or memory:<id>; kinds: ${REF_KINDS.join(', ')}). fail: the attempt failed;
the task is retried after its backoff while attempts remain, unless --final. A task whose lease ended (you were
silent longer than its lease, it timed out or was cancelled) refuses your result: the error says why.
split: divides a task you hold into subtasks, given as a list of tasks (each with a "key", and "dependsOn" naming
other keys) or as {"subtasks": [...], "aggregate": ...}, in JSON or YAML; the task stays yours and running while they
run, and when they have all ended you get their results combined by --aggregate (${AGGREGATE_NAMES.join(', ')};
default collect: a list, in the order given). --wait waits for that and prints it (exit 1 if the aggregate failed).`,
  options: {
    instructions: { type: 'string' },
    input: { type: 'string' },
    capability: { type: 'string', multiple: true },
    'depends-on': { type: 'string', multiple: true },
    priority: { type: 'string' },
    text: { type: 'string' },
    result: { type: 'string' },
    ref: { type: 'string', multiple: true },
    code: { type: 'string' },
    final: { type: 'boolean' },
    state: { type: 'string' },
    limit: { type: 'string' },
    aggregate: { type: 'string' },
    wait: { type: 'boolean' },
  },
  async run(ctx) {
    const [action, ...rest] = ctx.args;
    const client = await ctx.identity();
    const capabilities = ctx.values.capability as string[] | undefined;
    switch (action) {
      case 'create': {
        if (rest.length === 0) throw new UsageError('task create needs a title', ctx.command);
        const input = ctx.values.input === undefined ? undefined : await jsonArgument(ctx, ctx.values.input as string, 'input');
        const priority = ctx.values.priority === undefined ? undefined : Number(ctx.values.priority);
        const created = await client.createTask({
          title: rest.join(' '),
          ...(ctx.values.instructions !== undefined ? { instructions: ctx.values.instructions as string } : {}),
          ...(input !== undefined ? { input: input as CreateTaskRequest['input'] } : {}),
          ...(capabilities ? { capabilities } : {}),
          ...(ctx.values['depends-on'] ? { dependsOn: ctx.values['depends-on'] as string[] } : {}),
          ...(priority !== undefined ? { priority } : {}),
        });
        if (ctx.json) return void ctx.out(JSON.stringify(created, null, 2));
        ctx.out(created.id);
        ctx.note(`Created "${created.title}": ${created.state}${created.waiting ? ` (${created.waiting})` : ''}.`);
        return;
      }
      case 'next': {
        if (rest.length > 0) throw new UsageError('task next takes no arguments', ctx.command);
        const { task: next, reason } = await client.claimNextTask(capabilities ? { capabilities } : {});
        if (ctx.json) return void ctx.out(JSON.stringify({ task: next, reason }, null, 2));
        if (!next) {
          ctx.note(`No task for you: ${reason}.`);
          return 1;
        }
        ctx.out(describe(next));
        return;
      }
      case 'done': {
        if (rest.length !== 1) throw new UsageError('task done needs the task id', ctx.command);
        const json = ctx.values.result === undefined ? undefined : await jsonArgument(ctx, ctx.values.result as string, 'result');
        const refs = ((ctx.values.ref as string[] | undefined) ?? []).map((ref) => parseRef(ctx, ref));
        if (json === undefined && ctx.values.text === undefined && refs.length === 0) throw new UsageError('task done needs --text, --result or --ref', ctx.command);
        const done = await client.completeTask(rest[0]!, {
          ...(json !== undefined ? { json: json as Record<string, unknown> } : {}),
          ...(ctx.values.text !== undefined ? { text: ctx.values.text as string } : {}),
          ...(refs.length > 0 ? { refs } : {}),
        });
        if (ctx.json) return void ctx.out(JSON.stringify(done, null, 2));
        ctx.note(`Task ${done.id} succeeded.`);
        return;
      }
      case 'fail': {
        if (rest.length < 2) throw new UsageError('task fail needs the task id and a message', ctx.command);
        const failed = await client.failTask(rest[0]!, {
          message: rest.slice(1).join(' '),
          ...(ctx.values.code !== undefined ? { code: ctx.values.code as string } : {}),
          retry: ctx.values.final !== true,
        });
        if (ctx.json) return void ctx.out(JSON.stringify(failed, null, 2));
        ctx.note(failed.state === 'failed' ? `Task ${failed.id} failed.` : `Task ${failed.id} will be tried again (${failed.state}, attempt ${failed.attempt} of ${failed.maxAttempts} done).`);
        return;
      }
      case 'split':
        return split(ctx, client, rest);
      case 'show': {
        if (rest.length !== 1) throw new UsageError('task show needs the task id', ctx.command);
        const shown = await client.task(rest[0]!);
        if (ctx.json) return void ctx.out(JSON.stringify(shown, null, 2));
        ctx.out(describe(shown));
        return;
      }
      case 'list': {
        const state = ctx.values.state as string | undefined;
        if (state !== undefined && !(TASK_STATES as readonly string[]).includes(state)) throw new UsageError(`--state must be one of ${TASK_STATES.join(', ')}`, ctx.command);
        const list = await client.tasks({ ...(state ? { state: state as TaskState } : {}), limit: positiveInt(ctx, 'limit', 50) });
        if (ctx.json) return void ctx.out(JSON.stringify(list, null, 2));
        if (list.length === 0) return void ctx.note('No tasks.');
        ctx.out(table([['ID', 'STATE', 'PRI', 'TRY', 'HOLDER', 'TITLE', 'WAITING'], ...list.map((t) => [t.id, t.state, String(t.priority), `${t.attempt}/${t.maxAttempts}`, t.holderId ?? '-', oneLine(t.title).slice(0, 50), t.waiting ?? ''])]));
        return;
      }
      default:
        throw new UsageError('task needs an action: create, next, done, fail, split, show or list', ctx.command);
    }
  },
};

/** `task split`: the subtasks from a file, the argument or standard input; with --wait, their aggregate. */
async function split(ctx: Context, client: AgentClient, args: string[]): Promise<number | void> {
  if (args.length !== 2) throw new UsageError('task split needs the task id and the subtasks (a file, JSON, or - for standard input)', ctx.command);
  const [id, source] = args as [string, string];
  const document = await readDocument(source, ctx.io.stdin);
  const request = (Array.isArray(document) ? { subtasks: document } : document) as SplitTaskRequest;
  if (typeof request !== 'object' || request === null) throw new UsageError('the subtasks are a list of tasks, or {"subtasks": [...], "aggregate": ...}', ctx.command);
  const aggregate = ctx.values.aggregate as string | undefined;
  if (aggregate !== undefined) {
    if (!(AGGREGATE_NAMES as readonly string[]).includes(aggregate)) throw new UsageError(`--aggregate is one of ${AGGREGATE_NAMES.join(', ')}`, ctx.command);
    request.aggregate = aggregate as AggregatorName;
  }
  const waiting = await client.splitTask(id, request);
  if (ctx.values.wait !== true && ctx.json) return void ctx.out(JSON.stringify(waiting, null, 2));
  const subtasks = waiting.subtasks!;
  if (!ctx.json) {
    ctx.out(`Split ${id} into ${count(subtasks.items.length, 'subtask')} (${subtasks.aggregate.use}):`);
    ctx.out(indent(table([['KEY', 'TASK', 'STATE', 'TITLE'], ...subtasks.items.map((item) => [item.key, item.taskId, item.state, oneLine(item.title).slice(0, 60)])])));
  }
  if (ctx.values.wait !== true) return;
  const ended = await client.waitForSubtasks(id);
  if (ctx.json) return void ctx.out(JSON.stringify(ended, null, 2));
  ctx.out(describeSubtasks(ended.subtasks!));
  return ended.subtasks!.state === 'succeeded' ? undefined : 1;
}

function describeSubtasks(subtasks: TaskSubtasks): string {
  const lines = [`subtasks: ${subtasks.state} (${subtasks.aggregate.use}, ${subtasks.items.map((item) => `${item.key}: ${item.state}`).join(', ')})`];
  if (subtasks.state === 'succeeded') lines.push(`aggregate: ${JSON.stringify(subtasks.result, null, 2)}`);
  if (subtasks.error) lines.push(`why: ${subtasks.error}`);
  return lines.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** A JSON argument, or `-` to read it from standard input; a file path that exists is read too. */
async function jsonArgument(ctx: Context, value: string, what: string): Promise<unknown> {
  const text = value === '-' ? await readAll(ctx.io.stdin) : /^\s*[[{"]/.test(value) ? value : await readFile(value, 'utf8').catch(() => value);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not JSON: an input may be text; a result must be JSON.
    if (what === 'input') return text;
    throw new UsageError(`--${what} must be JSON (or - to read it from standard input)`, ctx.command);
  }
}

function parseRef(ctx: Context, ref: string): { kind: (typeof REF_KINDS)[number]; ref: string } {
  const at = ref.indexOf(':');
  const kind = ref.slice(0, at) as (typeof REF_KINDS)[number];
  if (at <= 0 || !REF_KINDS.includes(kind)) throw new UsageError(`--ref must be kind:ref with kind one of ${REF_KINDS.join(', ')} (got ${ref})`, ctx.command);
  return { kind, ref: ref.slice(at + 1) };
}

function describe(t: Task): string {
  const lines = [
    `${t.id}  ${t.title}`,
    `state: ${t.state} (attempt ${t.attempt} of ${t.maxAttempts})${t.holderId ? `, held by ${t.holderId}` : ''}${t.waiting ? `, ${t.waiting}` : ''}`,
  ];
  if (t.capabilities.length > 0) lines.push(`needs: ${t.capabilities.join(', ')}`);
  if (t.instructions) lines.push('', t.instructions);
  if (t.input !== undefined) lines.push('', `input: ${typeof t.input === 'string' ? t.input : JSON.stringify(t.input, null, 2)}`);
  if (t.result) lines.push('', `result: ${JSON.stringify(t.result, null, 2)}`);
  if (t.subtasks) lines.push('', describeSubtasks(t.subtasks));
  if (t.error) lines.push('', `error (${t.error.code}): ${t.error.message}`);
  return lines.join('\n');
}
