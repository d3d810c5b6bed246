/** MCP tools of topic subscriptions: subscribe, unsubscribe and list your topics (the topics routes of the HTTP API). */
import { ListTopicsInput, SubscribeInput, TopicsOutput, UnsubscribeInput } from '../../shared/mcp-protocol';
import { run, type ToolGroup } from './tool-kit';

export const registerTopicTools: ToolGroup = (server, { messaging: { store }, me }) => {
  server.registerTool(
    'subscribe',
    {
      description:
        'Subscribe to topics: messages sent to {"type":"topic","name":...} then reach your inbox (read_inbox, wait_for_messages). ' +
        'Returns every topic you are subscribed to.',
      inputSchema: SubscribeInput,
      outputSchema: TopicsOutput,
    },
    ({ topics }) =>
      run(() => {
        const agent = me();
        store.subscribe(agent.id, topics);
        return { topics: store.topicsOf(agent.id) };
      }),
  );

  server.registerTool(
    'unsubscribe',
    {
      description: 'Leave topics: their new messages no longer reach you (what is in your inbox stays). Returns the topics you are still subscribed to.',
      inputSchema: UnsubscribeInput,
      outputSchema: TopicsOutput,
    },
    ({ topics }) =>
      run(() => {
        const agent = me();
        store.unsubscribe(agent.id, topics);
        return { topics: store.topicsOf(agent.id) };
      }),
  );

  server.registerTool(
    'list_topics',
    { description: 'The topics you are subscribed to.', inputSchema: ListTopicsInput, outputSchema: TopicsOutput },
    () => run(() => ({ topics: store.topicsOf(me().id) })),
  );
};
