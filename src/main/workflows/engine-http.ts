/**
 * HTTP routes of running workflows (API v1): start a run from a definition, list and read runs, cancel a run, decide
 * an approval gate, retry a step. Paths and shapes: src/shared/workflow-run-protocol.ts.
 */
import { z } from 'zod';
import { StepId } from '../../shared/workflow-protocol';
import {
  ApproveStepRequest,
  CancelWorkflowRequest,
  RetryStepRequest,
  workflowApprovePath,
  workflowCancelPath,
  workflowPath,
  WorkflowQuery,
  WorkflowRunId,
  workflowRetryPath,
  WORKFLOWS_PATH,
  type WorkflowList,
  type WorkflowRun,
} from '../../shared/workflow-run-protocol';
import type { AgentRegistry } from '../agents/registry';
import { authorityOf, requireAuthority } from '../api/auth';
import type { ApiContext } from '../api/server';
import type { TaskCaller } from '../tasks/service';
import { parseInput } from '../validation';
import type { WorkflowEngine } from './engine';

const RunParams = z.object({ id: WorkflowRunId }).passthrough();
const StepParams = z.object({ id: WorkflowRunId, stepId: StepId }).passthrough();
const IdempotencyKey = z.string().trim().min(1).max(200);

export function registerWorkflowRunRoutes({ http }: ApiContext, registry: AgentRegistry, engine: WorkflowEngine, cockpitToken: string): void {
  const caller = (request: Parameters<typeof authorityOf>[0]): TaskCaller => requireAuthority(authorityOf(request, registry, cockpitToken));

  /** 201 with the run; 400 with `problems` naming each step at fault (as the validate route). */
  http.post(WORKFLOWS_PATH, async (request, reply) => {
    const who = caller(request);
    const header = request.headers['idempotency-key'];
    const idempotencyKey = header === undefined ? undefined : parseInput(IdempotencyKey, Array.isArray(header) ? header[0] : header, 'Idempotency-Key');
    const length = Number(request.headers['content-length']);
    const run = engine.start(who, request.body, { ...(Number.isFinite(length) ? { bytes: length } : {}), ...(idempotencyKey ? { idempotencyKey } : {}) });
    return reply.code(201).send(run);
  });

  http.get(WORKFLOWS_PATH, async (request): Promise<WorkflowList> => {
    const query = parseInput(WorkflowQuery, request.query, 'workflow query');
    return { workflows: engine.list(caller(request), query) };
  });

  http.get(workflowPath(':id'), async (request): Promise<WorkflowRun> => {
    const { id } = parseInput(RunParams, request.params, 'workflow id');
    return engine.get(caller(request), id);
  });

  http.post(workflowCancelPath(':id'), async (request): Promise<WorkflowRun> => {
    const { id } = parseInput(RunParams, request.params, 'workflow id');
    const { reason } = parseInput(CancelWorkflowRequest, request.body ?? {}, 'cancel');
    return engine.cancel(caller(request), id, reason);
  });

  http.post(workflowApprovePath(':id', ':stepId'), async (request): Promise<WorkflowRun> => {
    const { id, stepId } = parseInput(StepParams, request.params, 'workflow step');
    const decision = parseInput(ApproveStepRequest, request.body, 'decision');
    return engine.approve(caller(request), id, stepId, decision);
  });

  http.post(workflowRetryPath(':id', ':stepId'), async (request): Promise<WorkflowRun> => {
    const { id, stepId } = parseInput(StepParams, request.params, 'workflow step');
    parseInput(RetryStepRequest, request.body ?? {}, 'retry');
    return engine.retry(caller(request), id, stepId);
  });
}
