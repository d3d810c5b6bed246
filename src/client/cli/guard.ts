/**
 * `devenviro guard`: a git pre-commit hook that refuses a commit touching files another agent holds exclusively,
 * naming the holder, the files and when the lease ends. A hub that is not running never blocks a commit.
 */
import { realpathSync } from 'node:fs';
import { reservationPathProblem, RESERVATIONS_CHECK_PATH, type CheckRequest, type CheckResponse, type ReservationConflict } from '../../shared/reservation-protocol';
import { apiRoute, HubClientError, HubHttp } from '../client';
import { discoverHubUrl } from '../discovery';
import { listCredentials } from '../credentials';
import { EXIT_CONFLICT, UsageError, type Command, type Context, type IdentityRef } from './command';
import { GitError, hooksDir, stagedPaths, workTree } from './git';
import { CHAINED_HOOK, installHook, uninstallHook, type HookSettings } from './guard-hook';
import { cockpitToken, location, resolveIdentity } from './hub';
import { formatConflicts, holders } from './reservations';

/** A commit waits this long for the hub at most; then it goes ahead unchecked, as with the hub stopped. */
const CHECK_TIMEOUT_MS = 5_000;
/** The most paths one check request carries (the hub's limit). */
const CHECK_BATCH = 10_000;

const ACTIONS = {
  install: {
    summary: 'install the pre-commit hook in this git repository',
    usage: 'devenviro guard install [--as NAME] [--project P] [--data-dir DIR] [--url URL]',
    details: `Writes the repository's pre-commit hook (where git looks for it: core.hooksPath, else .git/hooks). A
pre-commit hook already there is kept: it is renamed to ${CHAINED_HOOK} and runs first. The hook runs this same
devenviro with --as, --project, --data-dir and --url as given here. --as names the agent that commits in this
clone; $DEVENVIRO_AGENT, when set at commit time, names it instead.`,
  },
  uninstall: {
    summary: 'remove the pre-commit hook (and put back the one it chained to)',
    usage: 'devenviro guard uninstall',
  },
  check: {
    summary: 'check the staged files against other agents\' exclusive reservations (the hook runs this)',
    usage: 'devenviro guard check [--as NAME] [--project P]',
    details: `Takes the staged paths (git diff --cached, both sides of a rename), asks the hub which of them other agents
hold exclusively, and exits with ${EXIT_CONFLICT} naming holder, files and expiry if any; 0 otherwise. The committer:
--as NAME, else $DEVENVIRO_AGENT (a saved agent's name, or a name or id with $DEVENVIRO_TOKEN), else the only saved
agent; with none saved, every agent's exclusive leases in --project count (checked with the cockpit's token).
When the hub is not running (or does not answer within ${CHECK_TIMEOUT_MS / 1000} s) it warns and exits with 0.`,
  },
};

export const guard: Command = {
  summary: 'a git pre-commit hook that refuses commits touching files other agents hold exclusively',
  usage: `devenviro guard install [--as NAME] [--project P]
       devenviro guard uninstall
       devenviro guard check [--as NAME] [--project P]`,
  details: `Run inside a git repository. Reservations hold repo-relative paths; the hook checks what a commit changes.
\`git commit --no-verify\` skips the hook. Run \`devenviro guard <action> --help\` for each action.`,
  actions: ACTIONS,
  async run(ctx) {
    const [action, ...rest] = ctx.args;
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`, ctx.command);
    switch (action) {
      case 'install':
        return install(ctx);
      case 'uninstall':
        return uninstall(ctx);
      case 'check':
        return check(ctx);
      default:
        throw new UsageError(`guard needs an action: ${Object.keys(ACTIONS).join(', ')}`, ctx.command);
    }
  },
};

async function repository(ctx: Context): Promise<{ root: string; prefix: string }> {
  const tree = await workTree(process.cwd());
  if (!tree) throw new UsageError(`${process.cwd()} is not inside a git work tree: run guard ${ctx.args[0]} in the repository`, ctx.command);
  return tree;
}

async function install(ctx: Context): Promise<void> {
  const { root } = await repository(ctx);
  // A name that is not saved would make every commit fail: say so now.
  if (ctx.values.as !== undefined) await resolveIdentity(ctx);
  const settings: HookSettings = {
    devenviro: thisDevenviro(),
    dataDir: ctx.values['data-dir'] !== undefined || ctx.io.env.DEVENVIRO_HOME ? ctx.dataDir : undefined,
    url: ctx.values.url as string | undefined,
    as: ctx.values.as as string | undefined,
    project: ctx.values.project as string | undefined,
  };
  const outcome = await installHook(await hooksDir(root), settings);
  if (ctx.json) return void ctx.out(JSON.stringify(outcome, null, 2));
  ctx.note(`${outcome.replacedOurs ? 'Updated' : 'Installed'} the devenviro guard: ${outcome.hook}`);
  if (outcome.chained) ctx.note(`The pre-commit hook that was there runs first: ${outcome.chained}`);
  ctx.note(
    settings.as
      ? `Commits are checked as ${settings.as} (or as $DEVENVIRO_AGENT when set).`
      : 'Commits are checked as $DEVENVIRO_AGENT, else the only saved agent (install with --as NAME to name one).',
  );
}

async function uninstall(ctx: Context): Promise<void> {
  const { root } = await repository(ctx);
  const outcome = await uninstallHook(await hooksDir(root));
  if (ctx.json) return void ctx.out(JSON.stringify(outcome, null, 2));
  if (!outcome.removed) ctx.note(`The devenviro guard is not installed (${outcome.hook}).`);
  else ctx.note(`Removed the devenviro guard from ${outcome.hook}.`);
  if (outcome.restored) ctx.note(`Put back the pre-commit hook it ran first: ${outcome.restored}`);
}

async function check(ctx: Context): Promise<number> {
  let paths: string[];
  try {
    const { root } = await repository(ctx);
    // Paths a reservation could not name (a backslash, a control character) no lease can hold either.
    paths = (await stagedPaths(root)).filter((file) => reservationPathProblem(file, 'file') === null);
  } catch (error) {
    if (error instanceof GitError) throw new UsageError(error.message, ctx.command);
    throw error;
  }
  if (paths.length === 0) return 0;

  let conflicts: ReservationConflict[];
  try {
    const { http, project } = await checker(ctx);
    conflicts = [];
    for (let i = 0; i < paths.length; i += CHECK_BATCH) {
      const { conflicts: found } = await http.request<CheckResponse>('POST', apiRoute(RESERVATIONS_CHECK_PATH), {
        // As files: a staged `app/[id]/page.tsx` is that file, not a pattern that would match `app/i/page.tsx`.
        body: { files: paths.slice(i, i + CHECK_BATCH), mode: 'shared', ...(project ? { project } : {}) } satisfies CheckRequest,
        timeoutMs: CHECK_TIMEOUT_MS,
      });
      conflicts.push(...found);
    }
  } catch (error) {
    if (error instanceof HubClientError && error.status === 0) {
      // A stopped hub never blocks work.
      ctx.note(`devenviro guard: warning: ${error.message}. The commit was not checked against file reservations.`);
      return 0;
    }
    throw error;
  }
  if (conflicts.length === 0) return 0;
  ctx.note(
    [
      'devenviro guard: commit refused: it changes files other agents hold exclusively:',
      formatConflicts(conflicts),
      `Wait until the lease ends, ask ${holders(conflicts)} to release it (devenviro send ${conflicts[0]!.holderName} "..."), or leave those files out`,
      'of this commit. `git commit --no-verify` skips this check.',
    ].join('\n'),
  );
  return EXIT_CONFLICT;
}

/** Who commits, as the hub will see the check: an agent (its own leases never count), or the cockpit for a project. */
async function checker(ctx: Context): Promise<{ http: HubHttp; project?: string }> {
  const url = () => discoverHubUrl(location(ctx)).url;
  const envAgent = ctx.io.env.DEVENVIRO_AGENT;
  let identity: IdentityRef | undefined;
  if (ctx.values.as === undefined && envAgent && !ctx.io.env.DEVENVIRO_TOKEN) {
    // In a hook the agent's name is what is at hand: $DEVENVIRO_AGENT alone names a saved agent.
    identity = await resolveIdentity({ ...ctx, values: { ...ctx.values, as: envAgent } });
  } else if (ctx.values.as !== undefined || envAgent || ctx.io.env.DEVENVIRO_TOKEN) {
    identity = await resolveIdentity(ctx);
  } else {
    const project = ctx.values.project as string | undefined;
    const saved = listCredentials(ctx.dataDir).filter((c) => project === undefined || c.project === project);
    if (saved.length === 1) identity = saved[0];
    else if (saved.length > 1) {
      throw new UsageError(
        `${saved.length} agents are saved (${saved.map((c) => `${c.name}@${c.project}`).join(', ')}): say who commits with DEVENVIRO_AGENT=NAME or guard install --as NAME`,
        ctx.command,
      );
    } else {
      if (project === undefined) throw new UsageError('no agent is saved here: name the project to check with --project P (or the committing agent with --as NAME)', ctx.command);
      return { http: new HubHttp(url, await cockpitToken(ctx.dataDir)), project };
    }
  }
  return { http: new HubHttp(url, identity!.token) };
}

/** The command line that runs this devenviro (node, its loader options, the script), for the hook to run. */
function thisDevenviro(): string[] {
  const script = process.argv[1];
  if (!script) throw new Error('cannot tell how devenviro was started, to write it into the hook');
  let resolved = script;
  try {
    resolved = realpathSync(script);
  } catch {
    // A script that cannot be resolved is run as it was named.
  }
  return [process.execPath, ...process.execArgv, resolved];
}
