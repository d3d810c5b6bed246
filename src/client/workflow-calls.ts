/**
 * The agent client's workflow calls (AgentClient inherits them, with the task calls): check a definition, start a
 * workflow, list and read runs, cancel one, decide an approval gate, retry a step.
 */
import {
  WORKFLOW_VALIDATE_PATH,
  type ApprovalDecision,
  type WorkflowCheck,
  type WorkflowDefinitionInput,
} from '../shared/workflow-protocol';
import {
  WORKFLOWS_PATH,
  workflowApprovePath,
  workflowCancelPath,
  workflowPath,
  workflowRetryPath,
  type WorkflowList,
  type WorkflowRun,
  type WorkflowState,
  type WorkflowSummary,
} from '../shared/workflow-run-protocol';
import { apiRoute } from './http';
import { TaskCalls } from './task-calls';

export abstract class WorkflowCalls extends TaskCalls {
  /**
   * Checks a workflow definition for this agent's project and its agents; nothing is stored or run. Resolves with
   * the plan; an invalid one rejects with HubClientError (code `invalid_request`) whose `body.problems`
   * (WorkflowProblem[]) names each step at fault.
   */
  checkWorkflow(definition: WorkflowDefinitionInput): Promise<WorkflowCheck> {
    return this.http.request<WorkflowCheck>('POST', apiRoute(WORKFLOW_VALIDATE_PATH), { body: definition });
  }

  /**
   * Starts a workflow in this agent's project (validated first: an invalid one rejects as checkWorkflow does, and
   * nothing runs). Resolves with the run.
   */
  startWorkflow(definition: WorkflowDefinitionInput): Promise<WorkflowRun> {
    return this.http.request<WorkflowRun>('POST', apiRoute(WORKFLOWS_PATH), { body: definition });
  }

  /** The project's workflows, newest first, as summaries (step counts, open approvals, waiting work). */
  listWorkflows(query: { state?: WorkflowState; limit?: number } = {}): Promise<WorkflowSummary[]> {
    return this.http.request<WorkflowList>('GET', apiRoute(WORKFLOWS_PATH), { query }).then((r) => r.workflows);
  }

  /** One run in full: its steps with their states, items, agents and results, and the timeline. */
  getWorkflow(id: string): Promise<WorkflowRun> {
    return this.http.request<WorkflowRun>('GET', apiRoute(workflowPath(id)));
  }

  /** Cancels a running workflow: its active tasks are cancelled and their agents told. */
  cancelWorkflow(id: string, reason?: string): Promise<WorkflowRun> {
    return this.http.request<WorkflowRun>('POST', apiRoute(workflowCancelPath(id)), { body: reason === undefined ? {} : { reason } });
  }

  /** Decides an open approval gate: approve, reject (the step fails), or edit (`value` becomes its result). */
  approveStep(id: string, stepId: string, decision: ApprovalDecision = { decision: 'approve' }): Promise<WorkflowRun> {
    return this.http.request<WorkflowRun>('POST', apiRoute(workflowApprovePath(id, stepId)), { body: decision });
  }

  /** Runs a failed, timed-out or cancelled step again (and the steps skipped after it). */
  retryStep(id: string, stepId: string): Promise<WorkflowRun> {
    return this.http.request<WorkflowRun>('POST', apiRoute(workflowRetryPath(id, stepId)), { body: {} });
  }
}
