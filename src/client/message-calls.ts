/**
 * The agent client's message, topic and presence calls over HTTP (AgentClient inherits them): read the inbox, search
 * messages and threads, subscribe to topics, list agents. Sending, acknowledging and the agent's own status belong
 * to the socket's side, in client.ts.
 */
import type { AgentInfo, InboxPage, Message, SearchHit, ThreadSummary } from '../shared/agent-protocol';
import { ReservationCalls } from './reservation-calls';

export abstract class MessageCalls extends ReservationCalls {
  /** A page of the inbox: unacknowledged messages by default, oldest first. */
  inbox(query: { after?: string; limit?: number; state?: 'unacked' | 'all' } = {}): Promise<InboxPage> {
    return this.http.request<InboxPage>('GET', `/agents/${this.id}/messages`, { query });
  }

  search(q: string, options: { limit?: number } = {}): Promise<SearchHit[]> {
    return this.http.request<{ hits: SearchHit[] }>('GET', '/messages/search', { query: { q, limit: options.limit } }).then((r) => r.hits);
  }

  threads(options: { limit?: number } = {}): Promise<ThreadSummary[]> {
    return this.http.request<{ threads: ThreadSummary[] }>('GET', `/agents/${this.id}/threads`, { query: { limit: options.limit } }).then((r) => r.threads);
  }

  /** The messages of a thread that this agent sent or received, oldest first. */
  thread(threadId: string): Promise<Message[]> {
    return this.http.request<{ messages: Message[] }>('GET', `/threads/${encodeURIComponent(threadId)}`).then((r) => r.messages);
  }

  // -- topics ----------------------------------------------------------------------------------------------------

  /** Subscribes to topics; returns every topic the agent is subscribed to. */
  subscribe(topics: string | string[]): Promise<string[]> {
    const list = Array.isArray(topics) ? topics : [topics];
    return this.http.request<{ topics: string[] }>('POST', `/agents/${this.id}/topics`, { body: { topics: list } }).then((r) => r.topics);
  }

  async unsubscribe(topics: string | string[]): Promise<string[]> {
    let current = await this.topics();
    for (const topic of Array.isArray(topics) ? topics : [topics]) {
      current = (await this.http.request<{ topics: string[] }>('DELETE', `/agents/${this.id}/topics/${encodeURIComponent(topic)}`)).topics;
    }
    return current;
  }

  topics(): Promise<string[]> {
    return this.http.request<{ topics: string[] }>('GET', `/agents/${this.id}/topics`).then((r) => r.topics);
  }

  // -- presence --------------------------------------------------------------------------------------------------

  /** Keeps an agent without a socket shown as present (any call does too). */
  heartbeat(): Promise<AgentInfo> {
    return this.http.request<AgentInfo>('POST', `/agents/${this.id}/heartbeat`);
  }

  agents(): Promise<AgentInfo[]> {
    return this.http.request<{ agents: AgentInfo[] }>('GET', '/agents').then((r) => r.agents);
  }

  /** Agents whose status is not offline. */
  active(): Promise<AgentInfo[]> {
    return this.http.request<{ agents: AgentInfo[] }>('GET', '/agents/active').then((r) => r.agents);
  }
}
