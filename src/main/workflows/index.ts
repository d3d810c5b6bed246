/**
 * Workflows: definitions, validation and the plan (definition.ts), references (refs.ts), the fan-in aggregators
 * (aggregate.ts), the route that checks a definition (http.ts), and the engine that runs them on tasks (engine.ts,
 * step-runners.ts, run-store.ts, run-view.ts, engine-http.ts, approver-notices.ts).
 */
export { parseWorkflowJson, planWorkflow, validateWorkflow, type ValidateOptions, type ValidationResult } from './definition';
export { parseRefPath, resolveFanOutItemInput, resolveFanOutItems, resolveStepInput, resolveValue, taskStepOutput, type RefError, type RefScope, type Resolved } from './refs';
export { aggregate, collect, concat, firstSuccess, majority, merge } from './aggregate';
export { registerWorkflowRoutes } from './http';
export { WorkflowEngine, type ApprovalNotifier } from './engine';
export { registerWorkflowRunRoutes } from './engine-http';
export { noticeApprovers } from './approver-notices';
