/**
 * Registration by drop file: a JSON file in mailbox/_register/ registers (or re-registers) an agent, makes its
 * folder and writes its agent.json; a file that cannot be used goes to _register/rejected/ with the reason.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { RegisterRequest, type RegisterResponse } from '../../shared/agent-protocol';
import { HUB_RUNTIME_FILE } from '../../shared/hub-location';
import type { AgentFile } from '../../shared/mailbox-protocol';
import { writeFileDurable } from '../../shared/node/durable-file';
import { isMissing } from '../../shared/node/fs-errors';
import type { AgentRecord } from '../agents/registry';
import { HubError } from '../errors';
import { AGAIN_SHORTLY_MS, naturalOrder, type MailboxContext } from './context';
import { ensureDirs, reject } from './files';
import { AGENT_FILE, AGENT_SUBFOLDERS } from './layout';
import { FileProblem } from './outbox-file';
import { SerialWorker } from './worker';

const MAX_REGISTRATION_BYTES = 64 * 1024;

/** The registration drop files waiting, read one at a time in name order. */
export class Registrations {
  private readonly names = new Set<string>();
  readonly worker: SerialWorker;

  /** `registered`: the agent is registered and its folder made; `retry`: look at every folder again later. */
  constructor(
    private readonly ctx: MailboxContext,
    private readonly registered: (agent: AgentRecord, dir: string) => void,
    retry: () => void,
  ) {
    this.worker = new SerialWorker(
      () => this.drain(),
      (error) => {
        ctx.log(`registrations: ${(error as Error).message}; trying again shortly`);
        ctx.later(AGAIN_SHORTLY_MS, retry);
      },
    );
  }

  queue(name: string): void {
    this.names.add(name);
    this.worker.kick();
  }

  private async drain(): Promise<void> {
    while (this.names.size > 0 && this.ctx.running) {
      const name = [...this.names].sort(naturalOrder)[0]!;
      this.names.delete(name);
      await this.registerFromFile(name);
    }
  }

  private async registerFromFile(fileName: string): Promise<void> {
    const file = path.join(this.ctx.layout.registerDir, fileName);
    let content: Buffer;
    try {
      const info = await stat(file);
      if (!info.isFile()) return;
      if (info.size > MAX_REGISTRATION_BYTES) {
        await this.rejectRegistration(file, fileName, `the file is ${info.size} bytes; a registration is at most ${MAX_REGISTRATION_BYTES} bytes.`);
        return;
      }
      content = await readFile(file);
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }

    let input: ReturnType<typeof RegisterRequest.parse>;
    try {
      let raw: unknown;
      try {
        raw = JSON.parse(content.toString('utf8'));
      } catch (error) {
        throw new FileProblem(`the file is not valid JSON (${(error as Error).message}).`);
      }
      const parsed = RegisterRequest.safeParse(raw);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || 'registration'}: ${issue.message}`);
        throw new FileProblem(`the registration does not fit the protocol: ${problems.join('; ')}.`);
      }
      input = parsed.data;
    } catch (error) {
      if (!(error instanceof FileProblem)) throw error;
      await this.rejectRegistration(file, fileName, error.message);
      return;
    }

    const dir = this.ctx.layout.agentDir(input.project, input.name);
    const agentFile = path.join(dir, AGENT_FILE);
    const previous = await readAgentFile(agentFile);
    let result: RegisterResponse;
    try {
      // The token from an earlier file registration keeps the agent's token stable; without one (or when it no
      // longer matches) the registration is made with the person's authority, which reclaims the name and issues
      // a fresh token: whoever can write the data directory is the person at this machine.
      try {
        result = this.ctx.registry.register(input, { kind: 'none' }, typeof previous?.token === 'string' ? previous.token : undefined);
      } catch (error) {
        if (!(error instanceof HubError) || (error.code !== 'conflict' && error.code !== 'revoked')) throw error;
        result = this.ctx.registry.register(input, { kind: 'cockpit' });
      }
    } catch (error) {
      if (error instanceof HubError && error.status < 500) {
        await this.rejectRegistration(file, fileName, error.message);
        return;
      }
      throw error;
    }

    try {
      await ensureDirs([dir, ...AGENT_SUBFOLDERS.map((sub) => path.join(dir, sub))]);
    } catch (error) {
      await this.rejectRegistration(file, fileName, `the agent was registered (id ${result.agent.id}) but its folder ${dir} could not be made: ${(error as Error).message}.`);
      return;
    }
    const record: AgentFile = {
      id: result.agent.id,
      name: result.agent.name,
      project: result.agent.project,
      token: result.token,
      hubFile: path.join(path.dirname(this.ctx.layout.root), HUB_RUNTIME_FILE),
      registeredAt: new Date().toISOString(),
    };
    await writeFileDurable(agentFile, JSON.stringify(record, null, 2) + '\n', 0o600);
    const agent = this.ctx.registry.get(result.agent.id);
    this.registered(agent, dir);
    await rm(file, { force: true });
  }

  private async rejectRegistration(file: string, fileName: string, reason: string): Promise<void> {
    const explanation =
      `Could not register an agent from mailbox/_register/${fileName} (${new Date().toISOString()}):\n${reason}\n\n` +
      'A registration file holds one JSON object such as {"name": "builder", "project": "acme", "tier": "development", ' +
      '"capabilities": ["code"], "description": "…"} (only "name" is required). Fix the file and move it back into ' +
      'mailbox/_register/.\n';
    try {
      await reject(file, this.ctx.layout.registerRejectedDir, fileName, explanation);
      this.ctx.log(`rejected registration ${fileName}: ${reason}`);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
}

async function readAgentFile(file: string): Promise<Partial<AgentFile> | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Partial<AgentFile>) : undefined;
  } catch {
    return undefined;
  }
}
