/** MCP tools of workflows: start one, read one, list them, and decide an approval gate (workflows/engine.ts). */
import {
  ApproveStepInput,
  GetWorkflowInput,
  ListWorkflowsInput,
  ListWorkflowsOutput,
  StartWorkflowInput,
  WorkflowOutput,
} from '../../shared/mcp-protocol';
import { ApprovalDecision } from '../../shared/workflow-protocol';
import { parseInput } from '../validation';
import { run, type ToolGroup } from './tool-kit';

export const registerWorkflowTools: ToolGroup = (server, { workflows, me }) => {
  if (!workflows) return;
  const caller = () => ({ kind: 'agent' as const, agent: me() });

  server.registerTool(
    'start_workflow',
    {
      description:
        'Start a workflow in your project: a graph of steps (task, fan-out over a list, fan-in that aggregates, approval gate) declared as JSON ' +
        '(docs/workflows.md). It is checked first: a problem (a cycle, a step no agent can run) is an error naming the step, and nothing runs. ' +
        'Returns the run; get_workflow follows it.',
      inputSchema: StartWorkflowInput,
      outputSchema: WorkflowOutput,
    },
    ({ definition, input }) => run(() => ({ workflow: workflows.start(caller(), input === undefined ? definition : { ...definition, input }) })),
  );

  server.registerTool(
    'get_workflow',
    {
      description:
        "One workflow of your project: its state, each step's state (waiting, running, awaiting_approval, succeeded...), items done, the agents that ran it, " +
        'why a step waits, an open approval (prompt and subject), and the result once it succeeded.',
      inputSchema: GetWorkflowInput,
      outputSchema: WorkflowOutput,
    },
    ({ workflowId }) => run(() => ({ workflow: workflows.get(caller(), workflowId) })),
  );

  server.registerTool(
    'list_workflows',
    {
      description: "Your project's workflows, newest first: state, step counts, approvals awaiting a decision, steps waiting for an agent and why.",
      inputSchema: ListWorkflowsInput,
      outputSchema: ListWorkflowsOutput,
    },
    ({ state, limit }) => run(() => ({ workflows: workflows.list(caller(), { project: me().project, ...(state ? { state } : {}), limit }) })),
  );

  server.registerTool(
    'approve_step',
    {
      description:
        'Decide an approval gate that waits (agents of tier strategic, where the step allows it): approve, reject (the step fails and nothing after it runs), ' +
        'or edit with the corrected `value` (it becomes the step result). get_workflow shows the prompt and the subject first.',
      inputSchema: ApproveStepInput,
      outputSchema: WorkflowOutput,
    },
    ({ workflowId, stepId, ...decision }) => run(() => ({ workflow: workflows.approve(caller(), workflowId, stepId, parseInput(ApprovalDecision, decision, 'decision')) })),
  );
};
