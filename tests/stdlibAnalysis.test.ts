import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonPool, isPyroostError, type PyroostError } from '@pyroost/api';

const PROGRAMS = fileURLToPath(
  new URL('../examples/stdlib-analysis/programs.py', import.meta.url),
);

// Expected counts, by construct:
// functions: top, area, load and main. load and main are async, area and load are methods.
// imports: 3 statements that import 5 names (os, sys, json, OrderedDict, defaultdict).
// nesting: class > def area > for > while > try.
// complexity: 4 functions plus 12 branch points. top has if, elif, `and`, and
// a comprehension `for` with an `if`, which makes 5. area has for, while and
// except. load has async with and a conditional expression. main has two case
// clauses.
const VALID_LINES = [
  '"""Module with known counts."""',
  'import os',
  'import sys, json',
  'from collections import OrderedDict, defaultdict as dd',
  '',
  '',
  'def top(values):',
  '    if values and len(values) > 2:',
  '        return [v for v in values if v]',
  '    elif values:',
  '        return values',
  '    return None',
  '',
  '',
  'class Shape:',
  '    def area(self):',
  '        for i in range(3):',
  '            while i:',
  '                try:',
  '                    i -= 1',
  '                except ValueError:',
  '                    pass',
  '        return 0',
  '',
  '    async def load(self):',
  '        async with self.lock:',
  '            return 1 if self else 2',
  '',
  '',
  'async def main():',
  '    match sys.argv:',
  '        case [_, name]:',
  '            print(name)',
  '        case _:',
  '            pass',
];

let folder: string;
let pool: PythonPool;

function path(name: string): string {
  return join(folder, name);
}

async function analysisError(file: string): Promise<PyroostError> {
  try {
    await pool.executeProgram('analyze_module', { path: path(file) });
  } catch (error) {
    if (isPyroostError(error)) return error;
    throw error;
  }
  throw new Error(`expected analyze_module to fail on ${file}`);
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'pyroost-stdlib-'));
  writeFileSync(path('valid.py'), VALID_LINES.join('\n') + '\n');
  writeFileSync(path('syntax_error.py'), 'def broken(:\n    pass\n');
  // Invalid UTF-8 after the first two lines fails when the file is read.
  // In the first two lines, where Python looks for a coding cookie, the same
  // bytes fail the encoding check with a SyntaxError.
  writeFileSync(
    path('invalid_utf8.py'),
    Buffer.concat([
      Buffer.from('x = 1\ny = 2\nname = "caf'),
      Buffer.from([0xe9]),
      Buffer.from('"\n'),
    ]),
  );
  writeFileSync(
    path('invalid_utf8_header.py'),
    Buffer.concat([
      Buffer.from('name = "caf'),
      Buffer.from([0xe9]),
      Buffer.from('"\n'),
    ]),
  );
  pool = await PythonPool.start({ programs: [PROGRAMS], size: 2, overflow: 0 });
});

afterAll(async () => {
  await pool?.close({ graceful: false });
  rmSync(folder, { recursive: true, force: true });
});

describe('analyze_module', () => {
  it('counts a valid module exactly', async () => {
    const result = await pool.executeProgram('analyze_module', {
      path: path('valid.py'),
    });
    expect(result).toEqual({
      lines: VALID_LINES.length,
      functions: 4,
      async_functions: 2,
      methods: 2,
      classes: 1,
      import_statements: 3,
      imported_names: 5,
      max_nesting: 5,
      complexity: 16,
    });
  });

  it('raises SyntaxError for invalid syntax', async () => {
    const error = await analysisError('syntax_error.py');
    expect(error.type).toBe('program_error');
    expect(error.category).toBe('program');
    expect(error.context.exception).toBe('SyntaxError');
    expect(error.message).toMatch(/^SyntaxError: /);
  });

  it('raises UnicodeDecodeError for invalid UTF-8', async () => {
    const error = await analysisError('invalid_utf8.py');
    expect(error.type).toBe('program_error');
    expect(error.context.exception).toBe('UnicodeDecodeError');
    expect(error.message).toContain("'utf-8' codec can't decode byte 0xe9");
  });

  it('raises SyntaxError for invalid UTF-8 in the first two lines', async () => {
    const error = await analysisError('invalid_utf8_header.py');
    expect(error.type).toBe('program_error');
    expect(error.context.exception).toBe('SyntaxError');
    expect(error.message).toContain('invalid or missing encoding declaration');
  });

  it('raises FileNotFoundError for a missing file', async () => {
    const error = await analysisError('missing.py');
    expect(error.type).toBe('program_error');
    expect(error.context.exception).toBe('FileNotFoundError');
  });

  it('keeps going after failures in a batch', async () => {
    const files = [
      'syntax_error.py',
      'valid.py',
      'invalid_utf8.py',
      'valid.py',
    ];
    const results = await pool.executeBatch(
      'analyze_module',
      files.map((file) => ({ path: path(file) })),
    );
    expect(results).toHaveLength(4);

    const exceptions = results.map((item) =>
      item.ok ? undefined : item.error.context.exception,
    );
    expect(exceptions).toEqual([
      'SyntaxError',
      undefined,
      'UnicodeDecodeError',
      undefined,
    ]);

    const values = results.map((item) => (item.ok ? item.result : undefined));
    expect(values[1]).toMatchObject({ functions: 4, complexity: 16 });
    expect(values[3]).toEqual(values[1]);
    expect(pool.getStats().workers.total).toBe(2);
  });
});
