/**
 * Documents the CLI reads from a file, standard input or the command line: JSON, or YAML (a file ending .yaml/.yml,
 * or text that is not JSON). A YAML error names its line and column; so does a JSON one, where the parser says.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { readAll } from './command';

/**
 * `source`: a path, `-` (standard input), `@path`, or the document itself when it starts with `{` or `[`. Throws an
 * Error naming the source, and the line and column, when it is neither JSON nor YAML.
 */
export async function readDocument(source: string, stdin: NodeJS.ReadableStream): Promise<unknown> {
  const inline = /^\s*[[{]/.test(source);
  const path = source.startsWith('@') ? source.slice(1) : source;
  const name = inline ? 'the argument' : source === '-' ? 'standard input' : path;
  const text = inline ? source : source === '-' ? await readAll(stdin) : await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(error.code === 'ENOENT' ? `${path}: no such file` : `${path}: ${error.message}`, { cause: error });
  });
  return parseDocument(text, name, !inline && /\.ya?ml$/i.test(path));
}

/** JSON first (unless `yaml`), then YAML; the error of the format the text looks like. */
export function parseDocument(text: string, name: string, yaml = false): unknown {
  if (!yaml) {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      // Text that starts like JSON is meant as JSON: its error is the one to show.
      if (/^\s*[[{"]/.test(text)) throw new Error(`${name} is not valid JSON: ${jsonErrorWhere(text, error as Error)}`, { cause: error });
    }
  }
  try {
    return parseYaml(text) as unknown;
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const at = error.linePos?.[0];
      const where = at ? `line ${at.line}, column ${at.col}` : 'somewhere';
      throw new Error(`${name} is not valid YAML (${where}): ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, { cause: error });
    }
    throw error;
  }
}

/** A JSON parse error with its line and column, from the position the parser gives. */
function jsonErrorWhere(text: string, error: Error): string {
  const position = /position (\d+)/.exec(error.message);
  if (!position) return error.message;
  const offset = Number(position[1]);
  const before = text.slice(0, offset).split('\n');
  return `${error.message.replace(/ in JSON at position \d+.*$/, '')} (line ${before.length}, column ${before.at(-1)!.length + 1})`;
}
