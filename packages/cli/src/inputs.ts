import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { glob } from 'tinyglobby';
import type { InputSource } from './options.js';
import { UsageError } from './usage.js';

/** One call's keyword arguments, with a label that names it in the output. */
export interface InputItem {
  /** `input`, `line N` of the --inputs file, or the file's path relative to the working folder. */
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

async function readJsonLines(file: string, cwd: string): Promise<InputItem[]> {
  const displayPath = relative(cwd, file) || file;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new UsageError(`Invalid --inputs ${displayPath}: ${reason}.`);
  }
  const items: InputItem[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    const label = `line ${index + 1}`;
    items.push({
      label,
      inputs: parseInputsObject(line, `--inputs ${displayPath} ${label}`),
    });
  });
  if (items.length === 0) {
    throw new UsageError(
      `Invalid --inputs ${displayPath}: the file contains no inputs. Write one JSON object per line.`,
    );
  }
  return items;
}

async function matchFiles(pattern: string, cwd: string): Promise<InputItem[]> {
  const paths = await glob(pattern, {
    cwd,
    absolute: true,
    onlyFiles: true,
    // A pattern naming a folder matches that folder, not the files in it.
    expandDirectories: false,
  });
  if (paths.length === 0) {
    throw new UsageError(
      `Invalid --files ${JSON.stringify(pattern)}: no file matches this pattern in ${cwd}. ` +
        'Check the pattern, for example --files "src/**/*.py".',
    );
  }
  return paths.sort().map((path) => ({
    label: relative(cwd, path),
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
      return readJsonLines(source.file, cwd);
    case 'files':
      return matchFiles(source.pattern, cwd);
  }
}
