/**
 * "Connect an agent": per client (Claude Code, Gemini CLI, Codex, any MCP client, a script), the commands that
 * register an agent and add the hub to it, built by shared/connect-plan.ts exactly as `devenviro connect` builds
 * them; and the MCP sessions open now.
 */
import { useMemo, useState } from 'react';
import { RegisterRequest } from '../../../shared/agent-protocol';
import {
  a2aConnect,
  cliLines,
  connectCommandLine,
  connectPlan,
  connectPrintout,
  genericMcpSnippets,
  httpScript,
  MCP_CLIENT_TITLES,
  MCP_CLIENTS,
  MCP_SERVER_NAME,
  MCP_SERVER_NAME_PATTERN,
  mcpUrlOf,
  shellLine,
  TOKEN_PLACEHOLDER,
  typescriptSnippet,
  type McpClient,
} from '../../../shared/connect-plan';
import type { ConnectInfo, McpSessionInfo } from '../../../shared/contract';
import { credentialsPathParts } from '../../../shared/credentials-path';
import { CopyBlock } from '../components/CopyBlock';
import { Empty, ErrorNotice, Loading, Panel, StatusBadge, ViewHeader } from '../components/ui';
import { formatAgo, formatDateTime, shortId } from '../format';
import { useAgentLookup, useCall, useLiveCall, useNow } from '../hooks';
import { href } from '../router';

type Tab = McpClient | 'mcp' | 'script' | 'a2a';
const TABS: Array<{ tab: Tab; label: string }> = [
  ...MCP_CLIENTS.map((client) => ({ tab: client, label: MCP_CLIENT_TITLES[client] })),
  { tab: 'mcp', label: 'Any MCP client' },
  { tab: 'script', label: 'Script over HTTP' },
  { tab: 'a2a', label: 'A2A' },
];

/** The hub agent the A2A example messages are addressed to. */
const A2A_EXAMPLE_TARGET = 'reviewer';

const NameAndProject = RegisterRequest.pick({ name: true, project: true });

export function ConnectView() {
  const info = useCall('agents.connectInfo');
  const [tab, setTab] = useState<Tab>('claude');
  const [name, setName] = useState('builder');
  const [project, setProject] = useState('default');
  const [serverName, setServerName] = useState(MCP_SERVER_NAME);
  const checked = NameAndProject.safeParse({ name, project });
  const problems = checked.success ? [] : checked.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  // As devenviro connect --server-name checks it: a name every client's configuration takes as it is.
  if (!MCP_SERVER_NAME_PATTERN.test(serverName)) problems.push('name in the client: use letters, digits, - and _ (up to 64, starting with a letter or digit)');
  const problem = problems.length > 0 ? problems.join('; ') : null;

  return (
    <div className="view" data-testid="view-connect">
      <ViewHeader
        title="Connect an agent"
        subtitle={info.state === 'ready' ? <span className="num" data-testid="connect-hub-url">{info.value.hubUrl}</span> : undefined}
      />
      <Panel testId="connect-panel" className="connect-panel">
        <div className="connect-form">
          <label className="connect-field">
            <span className="muted small">Agent name</span>
            <input className="input" value={name} onChange={(e) => setName(e.target.value)} aria-label="Agent name" data-testid="connect-name" spellCheck={false} />
          </label>
          <label className="connect-field">
            <span className="muted small">Project</span>
            <input className="input" value={project} onChange={(e) => setProject(e.target.value)} aria-label="Project" data-testid="connect-project" spellCheck={false} />
          </label>
          <label className="connect-field" title="The hub's entry in the client's MCP configuration: one per agent where agents share a configuration (Codex's is per user)">
            <span className="muted small">Name in the client</span>
            <input className="input" value={serverName} onChange={(e) => setServerName(e.target.value)} aria-label="Name in the client" data-testid="connect-server-name" spellCheck={false} />
          </label>
          <div className="segmented" role="tablist" aria-label="Client">
            {TABS.map((item) => (
              <button key={item.tab} type="button" role="tab" aria-selected={tab === item.tab} className={tab === item.tab ? 'on' : ''} onClick={() => setTab(item.tab)} data-testid={`connect-tab-${item.tab}`}>
                {item.label}
              </button>
            ))}
          </div>
        </div>
        {info.state === 'loading' && <Loading />}
        {info.state === 'error' && <ErrorNotice message={info.message} onRetry={info.reload} />}
        {info.state === 'ready' &&
          (problem ? (
            <p className="text-warn small" role="alert" data-testid="connect-problem">
              {problem}
            </p>
          ) : (
            <ConnectSteps tab={tab} info={info.value} name={checked.data!.name} project={checked.data!.project} serverName={serverName} />
          ))}
        <TokenNote />
      </Panel>
      <McpSessions />
    </div>
  );
}

function ConnectSteps({ tab, info, name, project, serverName }: { tab: Tab; info: ConnectInfo; name: string; project: string; serverName: string }) {
  const devenviro = shellLine(info.devenviroArgv);
  const mcpUrl = mcpUrlOf(info.hubUrl);
  if (tab === 'mcp') {
    const snippets = genericMcpSnippets(info.devenviroArgv, mcpUrl, name, project, serverName);
    return (
      <div className="connect-steps" data-testid="connect-steps">
        <h3 className="section-title">1. Register the agent (its token is saved in the data directory)</h3>
        <CopyBlock text={cliLines(devenviro, name, project)[0]!} label="register command" testId="connect-register" />
        <h3 className="section-title">2a. A client that starts a command: the stdio entry</h3>
        <p className="muted small">It relays to this hub as the agent, with its saved token: nothing to paste.</p>
        <CopyBlock text={snippets.stdio} label="stdio configuration" testId="connect-mcp-stdio" />
        <h3 className="section-title">2b. A client that takes a URL: Streamable HTTP with the agent's token as a header</h3>
        <CopyBlock text={snippets.http} label="HTTP configuration" testId="connect-mcp-http" />
      </div>
    );
  }
  if (tab === 'a2a') {
    const a2a = a2aConnect(info.hubUrl, name, project, A2A_EXAMPLE_TARGET);
    return (
      <div className="connect-steps" data-testid="connect-steps">
        <p className="muted small">
          For an agent on another framework (Google ADK, LangGraph, CrewAI, any A2A v1.0 client): it registers as {name} in {project} like any agent, and calls the hub with its
          token. The hub answers with a task; the agent it names gets a message, and that agent&rsquo;s reply completes the task.
        </p>
        <h3 className="section-title">Agent card (public) and JSON-RPC endpoint</h3>
        <CopyBlock text={a2a.cardUrl} label="agent card URL" testId="connect-a2a-card" />
        <CopyBlock text={a2a.rpcUrl} label="JSON-RPC URL" testId="connect-a2a-rpc" />
        <h3 className="section-title">Naming the agent a message is for</h3>
        <p className="muted small" data-testid="connect-a2a-target">
          Put it in <code>message.metadata.to</code>: its name (looked up in the caller&rsquo;s project first), <code>name@project</code>, or its id. The card lists the agents
          as skills, with these ids. Here the examples send to <code>{A2A_EXAMPLE_TARGET}</code>.
        </p>
        <h3 className="section-title">curl: register, read the card, send, read the task</h3>
        {a2a.curl.map((line, i) => (
          <CopyBlock key={line} text={line} label={`A2A curl command ${i + 1}`} testId="connect-a2a-curl" />
        ))}
        <h3 className="section-title">TypeScript, with the official SDK (@a2a-js/sdk)</h3>
        <CopyBlock text={a2a.sdkSnippet} label="A2A SDK snippet" testId="connect-a2a-sdk" />
      </div>
    );
  }
  if (tab === 'script') {
    return (
      <div className="connect-steps" data-testid="connect-steps">
        <h3 className="section-title">HTTP, from any language</h3>
        <p className="muted small">Register: the answer holds the agent's id and token; send the token as a Bearer header on every other request.</p>
        {httpScript(info.hubUrl, name, project).map((line, i) => (
          <CopyBlock key={line} text={line} label={`curl command ${i + 1}`} testId="connect-http" />
        ))}
        <h3 className="section-title">The devenviro command line</h3>
        {cliLines(devenviro, name, project).map((line, i) => (
          <CopyBlock key={line} text={line} label={`command ${i + 1}`} testId="connect-cli" />
        ))}
        <h3 className="section-title">TypeScript</h3>
        <CopyBlock text={typescriptSnippet(info.hubUrl, info.dataDir, name, project)} label="TypeScript snippet" testId="connect-ts" />
      </div>
    );
  }
  const credentials = [info.dataDir, ...credentialsPathParts(project, name)].join(info.pathSeparator);
  const printout = connectPrintout(tab, connectPlan(tab, mcpUrl, TOKEN_PLACEHOLDER, name, credentials, serverName));
  return (
    <div className="connect-steps" data-testid="connect-steps">
      <h3 className="section-title">One command, in the repository the agent works in</h3>
      <p className="muted small">
        Registers {name} in {project} (or re-registers it with its saved token, keeping its id), saves its credentials and adds the hub to {MCP_CLIENT_TITLES[tab]} with its own{' '}
        <code>{tab} mcp add</code>. Where {tab} is not installed it prints what follows instead.
      </p>
      <CopyBlock text={connectCommandLine(devenviro, tab, name, project, { serverName })} label={`devenviro connect ${tab}`} testId="connect-command" />
      <h3 className="section-title">Or by hand: what it prints with --print</h3>
      <p className="muted small">
        <code>--print</code> registers and prints without running {tab}; the real token stands where this shows {TOKEN_PLACEHOLDER}.
      </p>
      <CopyBlock text={connectCommandLine(devenviro, tab, name, project, { print: true, serverName })} label={`devenviro connect ${tab} --print`} testId="connect-print-command" />
      <CopyBlock text={printout} label={`${MCP_CLIENT_TITLES[tab]} command and snippet`} testId="connect-printout" />
    </div>
  );
}

function TokenNote() {
  return (
    <p className="muted small connect-token-note" data-testid="connect-token-note">
      <strong>Tokens.</strong> Each agent has its own token; it decides who the agent is on every request, so whoever holds it can act as that agent. The hub keeps only a
      hash of it, so this page cannot show one: <code>devenviro connect</code> receives the token when it registers the agent, saves it in the data directory (owner-only) and hands it
      to the client. A name registered elsewhere whose credentials are lost is taken over with <code>--reclaim</code> (it uses the cockpit’s token on this machine; the old token
      stops working).
    </p>
  );
}

/** Who is connected over MCP now: agent, client (from its initialize request), since when. Pushed as sessions open and end. */
function McpSessions() {
  const sessions = useLiveCall('mcp.sessions');
  const lookup = useAgentLookup();
  const now = useNow(5000);
  const rows = useMemo(() => (sessions.state === 'ready' ? [...sessions.value].reverse() : []), [sessions]);
  return (
    <Panel title="MCP sessions open now" testId="mcp-sessions" bodyClassName="panel-body-flush" meta={sessions.state === 'ready' && <span className="num muted">{sessions.value.length}</span>}>
      {sessions.state === 'loading' && <Loading />}
      {sessions.state === 'error' && <ErrorNotice message={sessions.message} />}
      {sessions.state === 'ready' &&
        (rows.length === 0 ? (
          <Empty title="No MCP session is open">An agent’s client opens one when it starts (Claude Code, Gemini CLI and Codex do at launch).</Empty>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th>Agent</th>
                <th>Project</th>
                <th>Client</th>
                <th>Since</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((session, i) => (
                <SessionRow key={`${session.agentId} ${session.openedAt} ${i}`} session={session} agent={lookup(session.agentId)} now={now} />
              ))}
            </tbody>
          </table>
        ))}
    </Panel>
  );
}

function SessionRow({ session, agent, now }: { session: McpSessionInfo; agent: ReturnType<ReturnType<typeof useAgentLookup>>; now: number }) {
  return (
    <tr data-testid="mcp-session" data-agent={agent?.name ?? session.agentId}>
      <td>
        <a href={href('agents', session.agentId)}>{agent?.name ?? shortId(session.agentId)}</a> {agent && <StatusBadge status={agent.status} revoked={agent.revoked} />}
      </td>
      <td>{agent?.project ?? ''}</td>
      <td data-testid="mcp-session-client">
        {session.client.name} <span className="muted num">{session.client.version}</span>
      </td>
      <td className="num" title={formatDateTime(session.openedAt)}>
        {formatAgo(session.openedAt, now)}
      </td>
    </tr>
  );
}
