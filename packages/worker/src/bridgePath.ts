import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * Finds the directory that contains the `pyroost` Python package: `python/`
 * inside the published @pyroost/worker package, or the repository's
 * `python/` folder when running from sources. The worker puts it first on
 * PYTHONPATH.
 */
export function findBridgeDirectory(): string {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  const packaged = resolve(here, '..', 'python');
  const repository = resolve(here, '..', '..', '..', 'python');
  // From sources (src/), the repository's python/ is current, while the
  // package's python/ is the copy from the last build.
  const candidates =
    basename(here) === 'src' ? [repository, packaged] : [packaged, repository];
  for (const candidate of candidates) {
    if (existsSync(join(candidate, 'pyroost', '__main__.py'))) {
      cached = candidate;
      return candidate;
    }
  }
  throw new Error(
    `The pyroost Python bridge is missing: looked for pyroost/__main__.py in ${candidates.join(' and ')}. ` +
      'Reinstall @pyroost/worker, or run `pnpm build` in a source checkout.',
  );
}
