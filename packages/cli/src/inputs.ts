import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import type { InputSource } from './options.js';
import { UsageError } from './usage.js';

/** One call's keyword arguments, with a label that names it in the output. */
export interface InputItem {
  /**
   * `input`, `line N` of the --inputs file, or the matched file's path:
   * relative to the working folder when the file is inside it, else absolute.
   */
  label: string;
  inputs: Record<string, unknown>;
}

function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Parses `text` as a JSON object of keyword arguments. `where` names the
 * flag or line in the error, such as `--input` or `--inputs data.jsonl line 3`.
 */
export function parseInputsObject(
  text: string,
  where: string,
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `Invalid ${where}: not valid JSON (${(error as Error).message}). ` +
        `Pass an object of keyword arguments, such as {"path": "a.py"}.`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(
      `Invalid ${where}: expected a JSON object of keyword arguments, such as {"path": "a.py"}, got ${jsonTypeName(value)}.`,
    );
  }
  return value as Record<string, unknown>;
}

/** Reads a file for --inputs, or throws UsageError naming the path as typed and its absolute path. */
async function readInputsFile(argument: string, file: string): Promise<string> {
  const displayName = argument === file ? file : `${argument} (${file})`;
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new UsageError(
        `Invalid --inputs ${argument}: file not found` +
          (argument === file ? '.' : ` (looked for ${file}).`),
      );
    }
    if (code === 'EISDIR') {
      throw new UsageError(
        `Invalid --inputs ${displayName}: it is a directory, but --inputs expects a JSON Lines file with one JSON object of keyword arguments per line. ` +
          `To call the program once per file of the directory, use --files "${argument.replace(/\/+$/, '')}/*".`,
      );
    }
    throw new UsageError(
      `Invalid --inputs ${displayName}: failed to read the file (${(error as Error).message}).`,
    );
  }
}

async function readJsonLines(
  argument: string,
  file: string,
): Promise<InputItem[]> {
  const text = await readInputsFile(argument, file);
  const items: InputItem[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    const label = `line ${index + 1}`;
    items.push({
      label,
      inputs: parseInputsObject(line, `--inputs ${argument} ${label}`),
    });
  });
  if (items.length === 0) {
    throw new UsageError(
      `Invalid --inputs ${argument}: the file contains no inputs. Write one JSON object per line.`,
    );
  }
  return items;
}

/**
 * Splits a glob pattern into the directory named by its leading segments
 * without glob syntax, resolved against `cwd`, and the rest of the pattern.
 * Resolving the directory first lets a pattern start with `/` or climb out
 * of `cwd` with `..`, as many as the shell would accept, because tinyglobby
 * matches nothing when the `..` segments climb above the file system root.
 */
export function splitGlobBase(
  pattern: string,
  cwd: string,
): { base: string; rest: string } {
  const segments = pattern.split('/');
  let staticCount = 0;
  // The last segment always stays in the pattern, so a pattern without
  // glob syntax still names a file.
  while (staticCount < segments.length - 1) {
    const segment = segments[staticCount] as string;
    // A backslash escapes the next character in a glob, so a segment with
    // one is left to tinyglobby.
    if (segment.includes('\\') || isDynamicPattern(segment)) break;
    staticCount += 1;
  }
  const staticPart = segments.slice(0, staticCount).join('/');
  const base =
    staticCount === 0
      ? cwd
      : resolve(cwd, staticPart === '' ? '/' : staticPart);
  return { base, rest: segments.slice(staticCount).join('/') };
}

/** Returns the label of a matched file: relative to `cwd` when inside it, else absolute. */
function fileLabel(path: string, cwd: string): string {
  const fromCwd = relative(cwd, path);
  const outside =
    fromCwd === '..' || fromCwd.startsWith(`..${sep}`) || isAbsolute(fromCwd);
  return outside ? path : fromCwd;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function matchFiles(pattern: string, cwd: string): Promise<InputItem[]> {
  const { base, rest } = splitGlobBase(pattern, cwd);
  if (!(await isDirectory(base))) {
    throw new UsageError(
      `Invalid --files ${JSON.stringify(pattern)}: no file matches this pattern, because ${base} is not an existing directory. ` +
        'Check the pattern, for example --files "src/**/*.py".',
    );
  }
  const paths = await glob(rest, {
    cwd: base,
    absolute: true,
    onlyFiles: true,
    // A pattern naming a folder matches that folder, not the files in it.
    expandDirectories: false,
  });
  if (paths.length === 0 && (await isDirectory(join(base, rest)))) {
    const folderPattern = pattern.replace(/\/+$/, '');
    throw new UsageError(
      `Invalid --files ${JSON.stringify(pattern)}: the pattern names the directory ${join(base, rest)}, not files. ` +
        `Add a file pattern, such as --files "${folderPattern}/*".`,
    );
  }
  if (paths.length === 0) {
    const where = base === cwd ? `in ${cwd}` : `(${rest} in ${base})`;
    throw new UsageError(
      `Invalid --files ${JSON.stringify(pattern)}: no file matches this pattern ${where}. ` +
        'Check the pattern, for example --files "src/**/*.py".',
    );
  }
  return paths.sort().map((path) => ({
    label: fileLabel(path, cwd),
    inputs: { path },
  }));
}

/** Reads the inputs of `pyroost run`. Throws UsageError when they are invalid or empty. */
export async function loadInputs(
  source: InputSource,
  cwd: string,
): Promise<InputItem[]> {
  switch (source.kind) {
    case 'input':
      return [
        { label: 'input', inputs: parseInputsObject(source.json, '--input') },
      ];
    case 'inputs':
      return readJsonLines(source.argument, source.file);
    case 'files':
      return matchFiles(source.pattern, cwd);
  }
}
