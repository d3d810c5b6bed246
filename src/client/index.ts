/**
 * The public API of `devenviro-cockpit/client`: what an agent written in Node imports to join the hub.
 */
export {
  AgentClient,
  DEFAULT_HUB_URL,
  discoverHubUrl,
  HUB_RUNTIME_FILE,
  HubClient,
  HubClientError,
  HubHttp,
  ReservationConflictError,
  type AgentClientEvents,
  type AttachOptions,
  type ClientOptions,
  type DiscoveredUrl,
  type HubLocation,
  type MessageBody,
  type MessageHandler,
  type RegisterOptions,
  type SendOptions,
  type SendTarget,
} from './client';
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
