/**
 * Who may do what with memories, for every way in (HTTP and the agents' socket): an agent reads, stores, changes and
 * deletes the memories of its own project, and reads other projects' memories marked shared; the cockpit reaches
 * every project. Another project's memory the agent may not read is answered as if it did not exist.
 */
import type { Memory } from '../../shared/memory-protocol';
import type { AgentRecord, Authority } from '../agents/registry';
import { badRequest, forbidden, HubError, notFound } from '../errors';
import type { MemoryStore, ParsedMemoryInput, ParsedSearchQuery, SearchContext, StoreContext } from './store';

export type MemoryCaller = { kind: 'cockpit' } | { kind: 'agent'; id: string; project: string };

/** Where the cockpit's memories go when it names no project. */
const COCKPIT_DEFAULT_PROJECT = 'default';

export function memoryCaller(who: Exclude<Authority, { kind: 'none' }> | AgentRecord): MemoryCaller {
  if ('kind' in who) return who.kind === 'cockpit' ? { kind: 'cockpit' } : { kind: 'agent', id: who.agent.id, project: who.agent.project };
  return { kind: 'agent', id: who.id, project: who.project };
}

/**
 * Where a write (a store, an extraction) goes: the project named, else the caller's own (the cockpit's default one).
 * An agent naming another project is refused.
 */
export function writeContext(caller: MemoryCaller, project?: string): StoreContext {
  if (caller.kind === 'cockpit') return { project: project ?? COCKPIT_DEFAULT_PROJECT, agent: null };
  if (project !== undefined && project !== caller.project) {
    throw forbidden(`an agent stores memories only in its own project (${caller.project}), not in ${project}: leave project out`);
  }
  return { project: caller.project, agent: caller.id };
}

/**
 * The context of a store, after checking each memory: it goes to a project the caller may write (each may name one),
 * and a parent given by id is a memory the caller can read (one it cannot is "does not exist", as an unknown id is).
 */
export function checkedStore(store: MemoryStore, caller: MemoryCaller, inputs: ParsedMemoryInput[]): StoreContext {
  inputs.forEach((input, position) => {
    writeContext(caller, input.project);
    if (typeof input.parent === 'string' && !readable(caller, find(store, input.parent))) {
      throw badRequest(`memory ${position}: parent ${input.parent} does not exist`);
    }
  });
  return writeContext(caller);
}

/**
 * A search as the caller may make it. An agent searches its own project (scope=project, the default), and with
 * scope=shared also other projects' shared memories; naming another project or scope=all is the cockpit's. An
 * agent's search is a use of what it finds; the cockpit's (a person looking) does not change future ranking.
 */
export function searchContext(caller: MemoryCaller, query: ParsedSearchQuery): SearchContext {
  if (caller.kind === 'cockpit') return { project: query.project ?? COCKPIT_DEFAULT_PROJECT, agent: null, countsAsUse: false };
  if (query.project !== undefined && query.project !== caller.project) {
    throw forbidden(
      `an agent searches only its own project (${caller.project}), and other projects' shared memories with scope=shared; project=${query.project} is for the cockpit`,
    );
  }
  if (query.scope === 'all') {
    throw forbidden(`scope=all is for the cockpit: an agent searches its own project (${caller.project}), and other projects' shared memories with scope=shared`);
  }
  return { project: caller.project, agent: caller.id, countsAsUse: true };
}

/**
 * The project whose topics the caller may list: an agent its own (a topic's examples are its memories' words, so
 * another project's topics are for the cockpit); the cockpit names one, or gets the default project.
 */
export function topicsProject(caller: MemoryCaller, project?: string): string {
  if (caller.kind === 'cockpit') return project ?? COCKPIT_DEFAULT_PROJECT;
  if (project !== undefined && project !== caller.project) {
    throw forbidden(`an agent sees the topics of its own project (${caller.project}) only; project=${project} is for the cockpit`);
  }
  return caller.project;
}

/** A memory the caller may read; 404 for one of another project that is not shared, as for an unknown id. */
export function readableMemory(store: MemoryStore, caller: MemoryCaller, uid: string): Memory {
  const memory = store.get(uid);
  if (!readable(caller, memory)) throw noSuchMemory(uid);
  return memory;
}

/**
 * Checks that the caller may change or delete the memory: 404 if it may not even read it, 403 if it may read it
 * (another project's shared memory) but it is not the caller's to change.
 */
export function checkChangeable(store: MemoryStore, caller: MemoryCaller, uid: string): void {
  const memory = readableMemory(store, caller, uid);
  if (caller.kind === 'agent' && memory.project !== caller.project) {
    throw forbidden(`memory ${uid} belongs to project ${memory.project}: an agent reads other projects' shared memories but changes only its own project's`);
  }
}

/** Whether the caller may read a memory of this project and sharing (an agent: its own project's and shared ones). */
export function readable(caller: MemoryCaller, memory: Pick<Memory, 'project' | 'shared'> | undefined): boolean {
  if (!memory) return false;
  return caller.kind === 'cockpit' || memory.project === caller.project || memory.shared;
}

function find(store: MemoryStore, uid: string): Memory | undefined {
  try {
    return store.get(uid);
  } catch (error) {
    if (error instanceof HubError && error.status === 404) return undefined;
    throw error;
  }
}

/** The store's own words for an unknown id, so a hidden memory cannot be told from a missing one. */
function noSuchMemory(uid: string): HubError {
  return notFound(`there is no memory with id ${uid}`);
}
