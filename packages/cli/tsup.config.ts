import { definePackageBuild } from '../../tsup.shared.js';

// Two builds share dist/: the library (ESM + CJS with declarations) and the
// `pyroost` executable (ESM only, with a hashbang). The library build cleans
// dist/ but spares the executable's files, so the two may run in parallel.
export default [
  definePackageBuild(import.meta.url, { clean: ['!cli.js', '!cli.js.map'] }),
  definePackageBuild(import.meta.url, {
    entry: ['src/cli.ts'],
    format: ['esm'],
    dts: false,
    clean: false,
    banner: { js: '#!/usr/bin/env node' },
  }),
];
