// Runs the `core` tests of every layer: the tests tagged `core` with vitest
// test tags, either per file (`// @module-tag core` on its own line) or per
// test or describe block (`{ tags: ['core'] }`). Fails when vitest fails or
// when a layer has no core test that passed.
// Usage: pnpm test:core [vitest args]
//        node scripts/testCore.mjs --list   (prints the core files per layer as JSON)
/* global console, process, URL */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Layers that must each have at least one passing core test. */
export const CORE_LAYERS = ['protocol', 'worker', 'pool', 'supervisor', 'api'];

const root = fileURLToPath(new URL('..', import.meta.url));

/** Matches a file-level tag comment or a `tags` option that names `core`. */
const CORE_MARK =
  /(?:^|\n)\s*(?:\/\/|\*)\s*@module-tag\s+core\b|tags:\s*\[[^\]]*['"]core['"]/;

function testFiles(directory) {
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      return entry.name === 'node_modules' || entry.name === 'fixtures'
        ? []
        : testFiles(path);
    }
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Test files of a layer that mention the core tag, relative to the root. */
export function coreFiles(layer) {
  const directory = join(root, 'packages', layer);
  return [join(directory, 'src'), join(directory, 'test')]
    .flatMap(testFiles)
    .filter((file) => CORE_MARK.test(readFileSync(file, 'utf8')))
    .map((file) => relative(root, file).split(sep).join('/'));
}

function layerOf(file) {
  const match = /[/\\]packages[/\\]([^/\\]+)[/\\]/.exec(file);
  return match ? match[1] : undefined;
}

function main(extraArgs) {
  const files = Object.fromEntries(
    CORE_LAYERS.map((layer) => [layer, coreFiles(layer)]),
  );
  const untagged = CORE_LAYERS.filter((layer) => files[layer].length === 0);
  if (untagged.length > 0) {
    console.error(
      `test:core: no test file of ${untagged.map((l) => `@pyroost/${l}`).join(', ')} ` +
        "is tagged core. Add `// @module-tag core` to a test file, or `{ tags: ['core'] }` " +
        'to a test, in packages/<layer>/src (see docs/packaging.md).',
    );
    return 1;
  }

  const outputDirectory = mkdtempSync(join(tmpdir(), 'pyroost-test-core-'));
  const reportFile = join(outputDirectory, 'report.json');
  try {
    const args = [
      'exec',
      'vitest',
      'run',
      ...CORE_LAYERS.flatMap((layer) => ['--project', layer]),
      '--tags-filter',
      'core',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
      ...extraArgs,
      ...Object.values(files).flat(),
    ];
    const run = spawnSync('pnpm', args, { cwd: root, stdio: 'inherit' });
    if (run.error) {
      console.error(`test:core: could not start vitest: ${run.error.message}`);
      return 1;
    }

    let report;
    try {
      report = JSON.parse(readFileSync(reportFile, 'utf8'));
    } catch (error) {
      console.error(
        `test:core: vitest wrote no readable report to ${reportFile} ` +
          `(${error.message}); see its output above.`,
      );
      return run.status || 1;
    }

    const passed = Object.fromEntries(CORE_LAYERS.map((layer) => [layer, 0]));
    for (const result of report.testResults ?? []) {
      const layer = layerOf(result.name);
      if (!(layer in passed)) continue;
      for (const assertion of result.assertionResults ?? []) {
        if (assertion.status === 'passed') passed[layer] += 1;
      }
    }
    const summary = CORE_LAYERS.map(
      (layer) => `${layer} ${passed[layer]}`,
    ).join(', ');
    console.log(`test:core: core tests passed per layer: ${summary}`);

    const empty = CORE_LAYERS.filter((layer) => passed[layer] === 0);
    if (empty.length > 0) {
      console.error(
        `test:core: no core test passed in ${empty.join(', ')}; each layer needs ` +
          'at least one passing test tagged core.',
      );
      return 1;
    }
    return run.status ?? 1;
  } finally {
    rmSync(outputDirectory, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  if (args[0] === '--list') {
    const files = Object.fromEntries(
      CORE_LAYERS.map((layer) => [layer, coreFiles(layer)]),
    );
    console.log(JSON.stringify(files, null, 2));
  } else {
    process.exitCode = main(args);
  }
}
