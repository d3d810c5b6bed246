/**
 * `devenviro workflow`: workflows from a shell. run, list, show, cancel, approve and retry are in workflow-runs.ts; `check` asks the hub whether a definition is valid for
 * your project and its agents (the plan, or each problem with its step); `template` prints a definition of a common
 * shape to start from.
 */
import { readFile } from 'node:fs/promises';
import { AGGREGATORS, WORKFLOW_VALIDATE_PATH, type AggregatorName, type WorkflowCheck, type WorkflowProblem } from '../../shared/workflow-protocol';
import { mapReduceOverFiles, planImplementReviewMerge } from '../../shared/workflow-templates';
import { apiRoute, HubClientError } from '../client';
import { readAll, UsageError, type Command, type Context } from './command';
import { readerHttp } from './hub';
import { count, table } from './output';
import { RUN_ACTIONS, RUN_OPTIONS, runAction } from './workflow-runs';

const ACTIONS = {
  ...RUN_ACTIONS,
  check: {
    summary: 'check a workflow definition (JSON) against the hub: its plan, or every problem with the step it names',
    usage: 'devenviro workflow check <file.json | -> [--json]',
    details: `Reads the definition from the file (- for standard input) and asks the hub to validate it for your project's
agents (with no saved agent, the cockpit's token and the definition's project). Nothing is stored or run. Prints the
steps by level, or a table of problems (step, code, message) and exits with 1.`,
  },
  template: {
    summary: 'print a workflow definition of a common shape, to edit and check',
    usage: `devenviro workflow template plan-implement --goal TEXT [--name N] [--no-approval]
       devenviro workflow template map-reduce <file>... --instructions TEXT [--reduce collect|merge|concat|majority|first-success] [--name N]`,
    details: `plan-implement: plan (a strategic agent splits the goal into parts) -> implement (one task per part, agents with
capability \`code\`) -> review (one task over every part, capability \`review\`) -> approve (a gate; --no-approval drops
it) -> merge. map-reduce: one task per file, then the results aggregated (default collect).`,
  },
};

export const workflow: Command = {
  summary: 'run workflows and follow them (list, show, cancel, approve, retry), check definitions, print templates',
  usage: `devenviro workflow run <file.json | file.yaml | -> [--input JSON|@file] [--wait]
       devenviro workflow list [--state S] | show <id> | cancel <id> [--reason T]
       devenviro workflow approve <id> <step> [--reject | --edit JSON|@file] [--note T] | retry <id> <step>
       devenviro workflow check <file.json | ->
       devenviro workflow template <plan-implement | map-reduce> [options]`,
  details: 'Run `devenviro workflow <action> --help` for each action. docs/workflows.md describes the format.',
  options: {
    goal: { type: 'string' },
    name: { type: 'string' },
    'no-approval': { type: 'boolean' },
    instructions: { type: 'string' },
    reduce: { type: 'string' },
    ...RUN_OPTIONS,
  },
  actions: ACTIONS,
  async run(ctx) {
    const [action, ...rest] = ctx.args;
    switch (action) {
      case 'check':
        return check(ctx, rest);
      case 'template':
        return template(ctx, rest);
      case 'run':
      case 'list':
      case 'show':
      case 'cancel':
      case 'approve':
      case 'retry':
        return runAction(ctx, action, rest);
      default:
        throw new UsageError(`workflow needs an action: ${Object.keys(ACTIONS).join(', ')}`, ctx.command);
    }
  },
};

async function check(ctx: Context, args: string[]): Promise<number | void> {
  if (args.length !== 1) throw new UsageError('workflow check takes one file (or - for standard input)', ctx.command);
  const file = args[0]!;
  const text = file === '-' ? await readAll(ctx.io.stdin) : await readFile(file, 'utf8');
  let definition: unknown;
  try {
    definition = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file === '-' ? 'standard input' : file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const http = await readerHttp(ctx);
  try {
    const result = await http.request<WorkflowCheck>('POST', apiRoute(WORKFLOW_VALIDATE_PATH), { body: definition });
    if (ctx.json) return void ctx.out(JSON.stringify(result, null, 2));
    ctx.out(`${result.name}: valid in project ${result.project}, ${count(result.steps, 'step')} in ${count(result.plan.levels.length, 'level')}`);
    result.plan.levels.forEach((level, i) => ctx.out(`  ${i + 1}. ${level.join(', ')}`));
  } catch (error) {
    const problems = error instanceof HubClientError ? (error.body as { problems?: WorkflowProblem[] } | undefined)?.problems : undefined;
    if (!problems) throw error;
    if (ctx.json) ctx.out(JSON.stringify(error instanceof HubClientError ? error.body : {}, null, 2));
    else ctx.out(table([['STEP', 'CODE', 'PROBLEM'], ...problems.map((p) => [p.step ?? '-', p.code, p.message])]));
    ctx.note(`devenviro workflow check: ${count(problems.length, 'problem')}; nothing was run`);
    return 1;
  }
}

async function template(ctx: Context, args: string[]): Promise<void> {
  const [shape, ...rest] = args;
  const name = ctx.values.name as string | undefined;
  if (shape === 'plan-implement') {
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`, ctx.command);
    const goal = ctx.values.goal as string | undefined;
    if (!goal) throw new UsageError('plan-implement needs --goal TEXT', ctx.command);
    return void ctx.out(JSON.stringify(planImplementReviewMerge({ name: name ?? 'plan-implement', goal, approval: ctx.values['no-approval'] !== true }), null, 2));
  }
  if (shape === 'map-reduce') {
    if (rest.length === 0) throw new UsageError('map-reduce needs the files to map over', ctx.command);
    const instructions = ctx.values.instructions as string | undefined;
    if (!instructions) throw new UsageError('map-reduce needs --instructions TEXT (what to do with each file)', ctx.command);
    const reduce = (ctx.values.reduce as string | undefined) ?? 'collect';
    if (!(AGGREGATORS as readonly string[]).includes(reduce)) throw new UsageError(`--reduce is one of ${AGGREGATORS.join(', ')}`, ctx.command);
    const definition = mapReduceOverFiles({ name: name ?? 'map-reduce', files: rest, map: { title: 'Process one file', instructions }, reduce: reduce as AggregatorName });
    return void ctx.out(JSON.stringify(definition, null, 2));
  }
  throw new UsageError('workflow template needs a shape: plan-implement or map-reduce', ctx.command);
}
