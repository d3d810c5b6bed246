/**
 * The file reservation commands: reserve, release and reservations (leases on repo-relative paths and globs, so
 * agents editing one repository do not overwrite each other). The git guard is in guard.ts.
 */
import path from 'node:path';
import {
  DEFAULT_TTL_SECONDS,
  MAX_RESERVATION_PATHS,
  MAX_TTL_SECONDS,
  MIN_TTL_SECONDS,
  RESERVATIONS_PATH,
  ReservationId,
  type Reservation,
  type ReservationConflict,
  type ReservationList,
} from '../../shared/reservation-protocol';
import { apiRoute, ReservationConflictError } from '../client';
import { EXIT_CONFLICT, noArgs, UsageError, type Command, type Context } from './command';
import { workTree } from './git';
import { readerHttp } from './hub';
import { shortTime, span, table } from './output';

export const reserve: Command = {
  summary: 'reserve files (paths or globs) in your project, so other agents do not edit them',
  usage: 'devenviro reserve <path|glob>... [--shared] [--reason R] [--ttl 30m] [--json]',
  details: `Reserves every path or none: exclusive by default (no other agent may reserve them), --shared lets others
share them but not take them exclusively. A folder (src/auth) covers everything in it; globs as in src/**/*.ts.
Paths are relative to the repository root: inside a git work tree, paths given from a subfolder are taken from
there, as git takes them. --ttl: how long the lease lasts (90s, 30m, 2h; default ${DEFAULT_TTL_SECONDS / 60}m, at most
${MAX_TTL_SECONDS / 3600}h); reserving your own paths again renews them. Prints the lease id.
When another agent holds some of the paths, nothing is reserved: it prints who holds which until when and exits
with ${EXIT_CONFLICT}.`,
  options: { shared: { type: 'boolean' }, reason: { type: 'string' }, ttl: { type: 'string' } },
  async run(ctx) {
    if (ctx.args.length === 0) throw new UsageError('reserve needs at least one path or glob', ctx.command);
    if (ctx.args.length > MAX_RESERVATION_PATHS) {
      throw new UsageError(`at most ${MAX_RESERVATION_PATHS} paths at once: reserve a folder or a glob instead`, ctx.command);
    }
    const ttlSeconds = ctx.values.ttl === undefined ? undefined : parseTtl(ctx, ctx.values.ttl as string);
    const paths = await repoPaths(ctx, ctx.args);
    const client = await ctx.identity();
    let result;
    try {
      result = await client.reserve(paths, {
        mode: ctx.values.shared ? 'shared' : 'exclusive',
        ...(ctx.values.reason !== undefined ? { reason: ctx.values.reason as string } : {}),
        ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
      });
    } catch (error) {
      if (!(error instanceof ReservationConflictError)) throw error;
      if (ctx.json) ctx.out(JSON.stringify(error.body, null, 2));
      ctx.note(`devenviro reserve: nothing was reserved; held by other agents:\n${formatConflicts(error.conflicts)}`);
      ctx.note(`Wait until the lease ends, ask ${holders(error.conflicts)} to release it, or reserve other paths.`);
      return EXIT_CONFLICT;
    }
    if (ctx.json) return void ctx.out(JSON.stringify(result, null, 2));
    ctx.out(result.reservations.map((r) => r.id).join('\n'));
    // A lease made now has no renewal time; one of yours that the request named again was renewed.
    for (const r of result.reservations) ctx.note(`${r.renewedAt === null ? 'Reserved' : 'Renewed'} ${r.paths.join(', ')} (${r.mode}) until ${until(r.expiresAt)}.`);
  },
};

export const release: Command = {
  summary: 'release your reservations: by lease id, by path, or --all',
  usage: 'devenviro release <id|path>... | --all [--json]',
  details: `A lease id ends that lease. A path or glob, written as when it was reserved, is taken out of your leases
(a lease left with no path ends). --all ends every lease you hold. Only your own leases: the person at the cockpit
may release anyone's there.`,
  options: { all: { type: 'boolean' } },
  async run(ctx) {
    const all = ctx.values.all === true;
    if (all && ctx.args.length > 0) throw new UsageError('release takes ids and paths, or --all, not both', ctx.command);
    if (!all && ctx.args.length === 0) throw new UsageError('release needs lease ids or paths (or --all)', ctx.command);
    const ids = ctx.args.filter((arg) => ReservationId.safeParse(arg).success);
    const paths = await repoPaths(
      ctx,
      ctx.args.filter((arg) => !ids.includes(arg)),
    );
    const client = await ctx.identity();
    if (all) ids.push(...(await client.listReservations({ holder: client.id })).map((r) => r.id));
    const released: Reservation[] = [];
    const narrowed: Reservation[] = [];
    for (let i = 0; i < Math.max(ids.length, paths.length); i += MAX_RESERVATION_PATHS) {
      const idBatch = ids.slice(i, i + MAX_RESERVATION_PATHS);
      const pathBatch = paths.slice(i, i + MAX_RESERVATION_PATHS);
      const result = await client.release({ ...(idBatch.length ? { ids: idBatch } : {}), ...(pathBatch.length ? { paths: pathBatch } : {}) });
      released.push(...result.released);
      narrowed.push(...result.narrowed.filter((r) => !released.some((gone) => gone.id === r.id)));
    }
    if (ctx.json) return void ctx.out(JSON.stringify({ released, narrowed }, null, 2));
    if (released.length === 0 && narrowed.length === 0) {
      return void ctx.note(all ? 'You hold no reservations.' : 'Nothing released: none of your leases has those paths (write them as you reserved them; see `devenviro reservations --mine`).');
    }
    for (const r of released) ctx.note(`Released ${r.id}: ${r.paths.join(', ')}`);
    for (const r of narrowed) ctx.note(`Still held in ${r.id}: ${r.paths.join(', ')} (until ${until(r.expiresAt)})`);
  },
};

export const reservations: Command = {
  summary: 'list who holds which files, until when',
  usage: 'devenviro reservations [--project P] [--mine] [--path P] [--json]',
  details: `Lists the active leases of your agent's project (--mine: yours only; --path: those that could match a path
or glob). Without an agent identity, lists with the cockpit's token: --project's, or every project's.`,
  options: { mine: { type: 'boolean' }, path: { type: 'string' } },
  async run(ctx) {
    noArgs(ctx);
    const http = await readerHttp(ctx);
    let holder: string | undefined;
    if (ctx.values.mine) holder = (await ctx.identity()).id; // --mine needs an agent: its error says how to name one
    const [pathQuery] = ctx.values.path === undefined ? [undefined] : await repoPaths(ctx, [ctx.values.path as string]);
    const { reservations: list } = await http.request<ReservationList>('GET', apiRoute(RESERVATIONS_PATH), {
      query: { project: ctx.values.project as string | undefined, holder, path: pathQuery },
    });
    if (ctx.json) return void ctx.out(JSON.stringify(list, null, 2));
    if (list.length === 0) return void ctx.note(holder ? 'You hold no reservations.' : 'No reservations.');
    const projects = new Set(list.map((r) => r.project));
    const now = Date.now();
    ctx.out(
      table([
        ['ID', ...(projects.size > 1 ? ['PROJECT'] : []), 'HOLDER', 'MODE', 'ENDS', 'PATHS', 'REASON'],
        ...list.map((r) => [
          r.id,
          ...(projects.size > 1 ? [r.project] : []),
          r.holderName,
          r.mode,
          `in ${span(Date.parse(r.expiresAt) - now)}`,
          r.paths.join(' '),
          r.reason,
        ]),
      ]),
    );
  },
};

/** `90`, `90s`, `30m`, `2h`, `1d` as seconds, within the hub's bounds. */
export function parseTtl(ctx: Context, text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[(match?.[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  const seconds = match ? Number(match[1]) * unit : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < MIN_TTL_SECONDS || seconds > MAX_TTL_SECONDS) {
    throw new UsageError(`--ttl takes a duration from ${MIN_TTL_SECONDS}s to ${MAX_TTL_SECONDS / 3600}h, such as 90s, 30m or 2h (not ${text})`, ctx.command);
  }
  return seconds;
}

/**
 * Paths as reservations hold them: relative to the repository root, with forward slashes. Inside a git work tree a
 * path is taken from the current folder (as git takes pathspecs) and an absolute one must be inside the tree;
 * elsewhere paths are taken as written (the hub explains what it refuses).
 */
export async function repoPaths(ctx: Context, args: string[]): Promise<string[]> {
  if (args.length === 0) return [];
  const cwd = process.cwd();
  const tree = await workTree(cwd);
  return args.map((arg) => {
    let relative: string;
    if (!tree) {
      relative = path.posix.normalize(arg);
    } else if (path.isAbsolute(arg)) {
      relative = path.relative(tree.root, arg).split(path.sep).join('/');
    } else {
      relative = path.posix.normalize(tree.prefix + arg);
    }
    if (tree && (relative === '..' || relative.startsWith('../') || path.isAbsolute(relative))) {
      throw new UsageError(`${arg} is outside the repository at ${tree.root}`, ctx.command);
    }
    relative = relative.replace(/\/+$/, '');
    // The whole repository, named as a folder.
    return relative === '.' || relative === '' ? '**' : relative;
  });
}

/** One line per lease in the way: which of your paths, held how, by whom, until when, why. */
export function formatConflicts(conflicts: ReservationConflict[]): string {
  return conflicts
    .map(
      (c) =>
        `  ${c.requestedPaths.join(', ')}: held ${c.mode === 'exclusive' ? 'exclusively' : 'shared'} by ${c.holderName}` +
        `${c.heldPaths.join(', ') === c.requestedPaths.join(', ') ? '' : ` (${c.heldPaths.join(', ')})`} until ${until(c.expiresAt)}` +
        `, lease ${c.reservationId}${c.reason ? `: "${c.reason}"` : ''}`,
    )
    .join('\n');
}

export function holders(conflicts: ReservationConflict[]): string {
  return [...new Set(conflicts.map((c) => c.holderName))].join(', ');
}

/** `2026-12-06 22:40:00 UTC (in 25m)`. */
export function until(iso: string): string {
  return `${shortTime(iso)} UTC (in ${span(Date.parse(iso) - Date.now())})`;
}
