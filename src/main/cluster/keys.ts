/** The cluster's Redis keys, all under the configured prefix (docs/cluster.md lists them). */
export function clusterKeys(prefix: string) {
  return {
    /** SET of every hub id that ever joined (a hub whose announcement expired is shown gone, then dropped). */
    hubs: `${prefix}:hubs`,
    /** STRING: a hub's announcement (ClusterHub as JSON), with a time to live. */
    hub: (hubId: string) => `${prefix}:hub:${hubId}`,
    /** HASH agent id -> AgentReplica as JSON: every agent's identity (token hashes only). */
    agents: `${prefix}:agents`,
    /** HASH "project\u0000name" -> agent id: who holds each name; HSETNX decides between two hubs. */
    agentNames: `${prefix}:agent-names`,
    /** HASH agent id -> { hub, presence } as JSON: each agent's latest presence, as the hub it is on told it. */
    presence: `${prefix}:presence`,
    /** STREAM of identity and presence changes, each hub reading all of it. */
    events: `${prefix}:events`,
    /** STREAM of memory changes (stored with its vector, updated, deleted), each hub reading all of it. */
    memoryChanges: `${prefix}:memory-changes`,
    /** HASH memory uid -> its latest change (JSON, without the vector): what a hub too far behind the stream reads. */
    memories: `${prefix}:memories`,
    /** HASH memory uid -> "<model id>\0" + its vector (Float32, little-endian). */
    memoryVectors: `${prefix}:memory-vectors`,
    /** HASH memory uid -> its delete (JSON), so a hub that missed it in the stream deletes it too. */
    memoryDeletes: `${prefix}:memory-deletes`,
    /** HASH lease id -> LeaseRecord as JSON: a project's active file reservations (cluster/reservations.ts). */
    reservations: (project: string) => `${prefix}:reservations:${project}`,
    /** STRING: incremented by every change of a project's leases; a decision commits only if it did not move. */
    reservationsVersion: (project: string) => `${prefix}:reservations-version:${project}`,
    /** SET of the projects that have (or had) leases. */
    reservationProjects: `${prefix}:reservation-projects`,
    /** SET of the hubs that offered their own leases on joining (once per hub). */
    reservationHubs: `${prefix}:reservation-hubs`,
    /** STREAM of committed lease changes, each hub keeping its copy from it. */
    reservationChanges: `${prefix}:reservation-changes`,
    /** STREAM per agent: the messages it has not acknowledged yet, whichever hub they were sent to. */
    inbox: (agentId: string) => `${prefix}:inbox:${agentId}`,
    /** STRING (with a time to live): the message an idempotency key of a sender was first used for. */
    idempotency: (sender: string, key: string) => `${prefix}:idem:${sender}:${key}`,
    /** SET of "agent id\u0000topic": every topic subscription of the cluster. */
    subscriptions: `${prefix}:subscriptions`,
    /** HASH task id -> the shared task (project, creator, its create request) while it has not ended (cluster/tasks.ts). */
    tasks: `${prefix}:tasks`,
    /** STRING: the token of the hub that may give the task out, with a time to live; set NX, renewed compare-and-set. */
    taskClaim: (taskId: string) => `${prefix}:task-claim:${taskId}`,
    /** STRING (kept 7 days): how a shared task ended (state, result, error); a task with an end is not claimed again. */
    taskEnd: (taskId: string) => `${prefix}:task-end:${taskId}`,
    /** HASH task id -> the last attempt of the shared task given out (on any hub), so attempts count cluster-wide. */
    taskAttempts: `${prefix}:task-attempts`,
    /** STREAM of shared tasks created, given out and ended, each hub keeping its copies from it. */
    taskChanges: `${prefix}:task-changes`,
  };
}

export type ClusterKeys = ReturnType<typeof clusterKeys>;

export function agentNameField(project: string, name: string): string {
  return `${project}\u0000${name}`;
}
