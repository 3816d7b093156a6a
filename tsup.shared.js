// Shared tsup settings: every package builds ESM + CJS with declarations, and
// gets its own name and version compiled in for OpenTelemetry tracer names.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { defineConfig } from 'tsup';

export function definePackageBuild(configUrl, overrides = {}) {
  const dir = dirname(fileURLToPath(configUrl));
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    shims: true,
    target: 'node20',
    tsconfig: 'tsconfig.build.json',
    define: {
      __PACKAGE_NAME__: JSON.stringify(pkg.name),
      __PACKAGE_VERSION__: JSON.stringify(pkg.version),
    },
    ...overrides,
  });
}
