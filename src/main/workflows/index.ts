/**
 * Workflow definitions: validation and the plan (definition.ts), references (refs.ts), the fan-in aggregators
 * (aggregate.ts) and the HTTP route that checks a definition (http.ts). The engine that runs workflows builds on these.
 */
export { parseWorkflowJson, planWorkflow, validateWorkflow, type ValidateOptions, type ValidationResult } from './definition';
export { parseRefPath, resolveFanOutItemInput, resolveFanOutItems, resolveStepInput, resolveValue, taskStepOutput, type RefError, type RefScope, type Resolved } from './refs';
export { aggregate, collect, concat, firstSuccess, majority, merge } from './aggregate';
export { registerWorkflowRoutes } from './http';
