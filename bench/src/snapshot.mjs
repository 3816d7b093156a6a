// Copies the built pyroost packages into a folder that `--compare` can load,
// so that a change can be measured against the code before it in one run:
//
//   node bench/src/snapshot.mjs bench/results/before   # before the change
//   (change, pnpm build)
//   pnpm bench --compare=bench/results/before --workloads=noop

import { cpSync, mkdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const target = resolve(process.argv[2] ?? join(root, 'bench/results/before'));
const layers = ['protocol', 'worker', 'pool', 'supervisor', 'api'];

rmSync(target, { recursive: true, force: true });
for (const layer of layers) {
  const source = join(root, 'packages', layer);
  const destination = join(target, 'node_modules/@pyroost', layer);
  mkdirSync(destination, { recursive: true });
  cpSync(join(source, 'package.json'), join(destination, 'package.json'));
  cpSync(join(source, 'dist'), join(destination, 'dist'), { recursive: true });
  if (layer === 'worker') {
    cpSync(join(source, 'python'), join(destination, 'python'), {
      recursive: true,
      filter: (path) => !path.includes('__pycache__'),
    });
  }
}

// Third-party dependencies are shared with the workspace through symlinks.
for (const name of ['execa', '@opentelemetry/api']) {
  const link = join(target, 'node_modules', name);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(
    realpathSync(join(root, 'packages/worker/node_modules', name)),
    link,
  );
}
process.stdout.write(`Snapshot of the built packages written to ${target}\n`);
