/**
 * The public API of `devenviro-cockpit/client`: what an agent written in Node imports to join the hub.
 */
export {
  AgentClient,
  DEFAULT_HUB_URL,
  HUB_RUNTIME_FILE,
  HubClientError,
  HubHttp,
  ReservationConflictError,
  type AgentClientEvents,
  type ClientOptions,
  type MessageBody,
  type MessageHandler,
  type SendOptions,
  type SendTarget,
} from './client';
export { discoverHubUrl, type DiscoveredUrl, type HubLocation } from './discovery';
export { HubClient, type AttachOptions, type RegisterOptions } from './hub-client';
export { credentialsFile, listCredentials, loadCredentials, saveCredentials, type SavedCredentials } from './credentials';
export type {
  AgentInfo,
  AgentStatus,
  AgentTier,
  Importance,
  InboxPage,
  Message,
  Recipient,
  RegisterResponse,
  SearchHit,
  SendResponse,
  ThreadSummary,
} from '../shared/agent-protocol';
export type {
  ReleaseRequest,
  ReleaseResponse,
  Reservation,
  ReservationConflict,
  ReservationMode,
  ReserveRequest,
  ReserveResponse,
} from '../shared/reservation-protocol';
export type {
  ClaimNextResponse,
  CompleteTaskRequest,
  CreateTaskRequest,
  FailTaskRequest,
  Task,
  TaskError,
  TaskProgressRequest,
  TaskResult,
  TaskState,
  TaskSubtasks,
} from '../shared/task-protocol';
export type { SplitTaskRequest, SubtaskSpec } from '../shared/subtask-protocol';
export type { WorkflowList, WorkflowRun, WorkflowState, WorkflowStepRun, WorkflowSummary } from '../shared/workflow-run-protocol';
export type { ApprovalDecision, WorkflowCheck, WorkflowDefinitionInput, WorkflowPlan, WorkflowProblem } from '../shared/workflow-protocol';
