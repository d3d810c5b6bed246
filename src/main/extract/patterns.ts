/** The patterns salient.ts finds entities, commands and code definitions with, and the small judgements on what they match. */

// --- entities -------------------------------------------------------------------------------------------------

export const URL = /\bhttps?:\/\/[^\s<>"'`)\]}]+[^\s<>"'`)\]}.,;:!?]/g;
export const PATH =
  /(?<![\w@$%/\\.:-])((?:[A-Za-z]:\\|\\\\)(?:[^\s"'`<>|:*?\\]+\\)*[^\s"'`<>|:*?\\]*[\w)]|(?:~|\.{1,2})?\/?(?:[\w@+.-][\w@.+-]*\/)+(?:[\w@+-][\w@.+-]*?)?)(?=[\s"'`<>),;:!?\]]|\.(?:\s|$)|$)(?::(\d+)(?::(\d+))?|#L(\d+)(?:-L?(\d+))?|\((\d+),(\d+)\))?/g;
/** A file named without a folder: a name with a project-file extension, or a well-known dotfile. */
export const BARE_FILE =
  /(?<![\w@$%/\\.:~-])((?:[\w-]+\.)+(?:json|jsonc|ts|tsx|mts|cts|js|jsx|mjs|cjs|yml|yaml|toml|lock|md|py|rs|go|sh|ini|cfg|conf|sql|html|css|scss|vue|svelte|gradle|xml|csproj|sln)|\.(?:npmrc|nvmrc|yarnrc|env|gitignore|gitattributes|dockerignore|editorconfig|prettierrc|eslintrc|babelrc|node-version|tool-versions)(?:\.[\w]+)?)(?=[\s"'`<>),;:!?\]]|\.(?:\s|$)|$)/g;
export const LINE_AFTER = /^,?\s+(?:on\s+|at\s+)?line\s+(\d+)/i;
export const LINE_BEFORE = /\bline\s+(\d+)\s+(?:of|in)\s+$/i;
export const BACKTICKED = /`([^`\n]{1,100})`/g;
const IDENTIFIER = /^(?:[A-Za-z_$][\w$]*)(?:(?:\.|::|#|->)[A-Za-z_$][\w$]*)*(?:\((?:[^()]{0,60})\))?$/;
export const CALL_IN_PROSE = /(?<![\w$.`/\\-])((?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*)\(\)/g;
export const MEMBER_IN_PROSE = /(?<![\w$.`/\\-])([A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)\.([a-z_$][\w$]*)\b(?!\.\w)/g;
export const FILE_EXTENSIONS = new Set(
  'ts tsx js jsx mjs cjs mts cts json jsonl md mdx py rs go java kt rb php cs cpp c h hpp swift sh bash yml yaml toml lock txt log html css scss vue svelte sql sqlite db xml env ini cfg conf csv tsv png jpg jpeg svg gif webp pdf zip gz tgz onnx bin wasm node d exe dll so dylib'.split(
    ' ',
  ),
);
export const NOT_SYMBOLS = new Set('true false null undefined none nil this self super new return async await const let var function class import export default if else for while try catch throw e.g i.e etc vs todo fixme'.split(' '));

// --- commands -------------------------------------------------------------------------------------------------

const CLI =
  'npm|npx|pnpm|yarn|bun|bunx|deno|node|tsx|ts-node|git|gh|docker|docker-compose|podman|kubectl|helm|terraform|make|cmake|cargo|rustc|rustup|go|python|python3|pip|pip3|pipx|uv|poetry|pytest|ruff|mypy|tsc|eslint|prettier|vitest|jest|playwright|curl|wget|ls|cd|rm|mv|cp|mkdir|cat|grep|rg|find|sed|awk|chmod|chown|ssh|scp|rsync|brew|apt|apt-get|sudo|systemctl|journalctl|export|source|echo|tail|head|kill|ps|lsof|sqlite3|psql|redis-cli|java|mvn|gradle|dotnet|bundle|rake|rails|ruby|composer|php|electron|electron-vite|vite|webpack|esbuild|tar|unzip|zip|openssl|env|time|timeout|xargs|tee|touch|ln|du|df|top|htop|code|nvm|volta|corepack|bash|sh|zsh';
export const CLI_START = new RegExp(`^(?:sudo\\s+)?(${CLI})(?:\\s|$)`);
export const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'zsh', 'fish', 'console', 'terminal', 'shellsession', 'shell-session', 'powershell', 'ps1', 'pwsh', 'cmd', 'bat', 'batch']);
export const PROMPT = /^\s*(?:\$|%|PS>|PS [^>]*>|❯|➜\s+\S+)\s+(.+)$/;
export const PROMPT_PREFIX = /^\s*(?:\$|%|PS>|❯)\s+/;
export const CI_STEP = /^\s*Run\s+(\S.*)$/;
/** A program and its arguments: environment assignments first, then a lower-case name, then at least one argument. */
export const COMMAND_SHAPE = /^(?:sudo\s+)?(?:[A-Z_][A-Z0-9_]*=\S*\s+)*([a-z][a-z0-9._-]*)(?:\s+(?:--?[\w-]+(?:=\S+)?|<[\w-]+>|[\w@./:~^+=-]+|"[^"]*"|'[^']*'|&&|\|\|?))+$/;
export const RUN_BEFORE = /\b(?:run|running|execute|type|invoke|with|try|use)\s+(?:the\s+)?(?:command\s+)?$/i;
export const COMMAND_AFTER = /^\s+(?:command|subcommand)\b/i;
/** Shell keywords that start lines of a script but are not programs. */
export const NOT_PROGRAMS = new Set(['if', 'then', 'else', 'fi', 'for', 'do', 'done', 'while', 'case', 'esac', 'function', 'export', 'set', 'echo', 'cd', 'exit', 'return', 'local', 'read', 'source']);
export const TOOL_CALL = /^\s*(?:Bash|Shell|Terminal|run_command|execute_command|run_terminal_cmd|exec|Run)\((.+)\)\s*$/;
export const PROSE_COMMAND =
  /(?<![\w`/-])((?:npm|pnpm|yarn|bun)\s+(?:run\s+[\w:.-]+|test|ci|install|build|start|exec\s+[\w@/.-]+)|npx\s+[@\w][\w@/.-]*|git\s+(?:commit|push|pull|checkout|rebase|merge|status|log|diff|add|reset|stash|clone|fetch|switch|branch|tag|cherry-pick|revert|bisect|restore|show|blame|init|remote))\b((?:\s+(?:-{1,2}[\w-]+(?:=\S+)?|"[^"\n]*"|'[^'\n]*'|[\w@./:~^-]*[/.:@~^][\w@./:~^-]*[\w/]|[0-9a-f]{7,40}|HEAD\S*|main|master|origin|upstream|develop))*)/g;

// --- code definitions -----------------------------------------------------------------------------------------

export const DEFINITIONS =
  /^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:function\*?\s+([\w$]+)|class\s+([\w$]+)|interface\s+([\w$]+)|type\s+([\w$]+)\s*=|enum\s+([\w$]+)|(?:const|let)\s+([\w$]+)\s*=\s*(?:async\s*)?(?:\([^)]*\)|[\w$]+)\s*=>|def\s+(\w+)|fn\s+(\w+)|func\s+(?:\([^)]*\)\s*)?(\w+)|(?:pub\s+)?(?:struct|trait|impl)\s+(\w+))/gm;

export function symbolOf(content: string): { name: string; kind: string } | null {
  if (!IDENTIFIER.test(content) || CLI_START.test(content) && /\s/.test(content)) return null;
  const name = content.replace(/\((?:[^()]*)\)$/, '()');
  const bare = name.replace(/\(\)$/, '');
  if (NOT_SYMBOLS.has(bare.toLowerCase())) return null;
  const last = bare.split(/\.|::|#|->/).pop()!;
  // A file name ("app.ts") is not a symbol.
  if (/\./.test(bare) && FILE_EXTENSIONS.has(last.toLowerCase()) && !name.endsWith('()')) return null;
  const call = name.endsWith('()');
  const member = /\.|::|#|->/.test(bare);
  // A single lower-case word without a call is usually an English word or a package name.
  if (!call && !member && /^[a-z]+$/.test(bare)) return null;
  if (!call && !member && /^[A-Z0-9_]+$/.test(bare) && bare.length < 3) return null;
  const kind = call ? (member ? 'method' : 'function') : member ? 'member' : /^[A-Z][a-z]/.test(bare) ? 'type' : 'identifier';
  return { name, kind };
}

export function hostOf(url: string): string | null {
  try {
    return new globalThis.URL(url).host;
  } catch {
    return null;
  }
}

export function looksLikePath(path: string): boolean {
  if (/^[A-Za-z]:\\|^\\\\/.test(path)) return path.length > 3;
  if (/^[\d/.:-]+$/.test(path)) return false;
  const segments = path.split('/').filter((s) => s !== '' && s !== '.' && s !== '..' && s !== '~');
  if (segments.length === 0) return false;
  const extension = /\.[A-Za-z][\w-]{0,7}$/.test(segments[segments.length - 1]!);
  const anchored = /^(?:\.{1,2}\/|~\/|\/)/.test(path);
  const slashes = (path.match(/\//g) ?? []).length;
  if (anchored) return segments.length >= (extension ? 1 : 2) && !/^\/\w{1,3}$/.test(path);
  return extension ? slashes >= 1 : slashes >= 2;
}

export function guessLanguage(content: string): string {
  if (/^\s*(?:import .* from |export |const |let |interface |type \w+ =)/m.test(content)) return 'typescript';
  if (/^\s*(?:def |import \w+$|from \w+ import )/m.test(content)) return 'python';
  if (/^\s*(?:fn |use \w+::|pub fn )/m.test(content)) return 'rust';
  if (/^\s*(?:func |package \w+$)/m.test(content)) return 'go';
  if (/^\s*[{[]/.test(content) && /[}\]]\s*$/.test(content)) return 'json';
  return '';
}

export function normalizeCommand(command: string): string {
  return command.trim().replace(/\s+/g, ' ');
}

export function normalizeCode(code: string): string {
  return code.replace(/\s+/g, ' ').trim();
}
