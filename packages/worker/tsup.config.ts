import { cpSync, rmSync } from 'node:fs';
import { definePackageBuild } from '../../tsup.shared.js';

// The Python bridge ships inside this package, so installing
// @pyroost/worker is enough to run a worker.
export default definePackageBuild(import.meta.url, {
  onSuccess: async () => {
    rmSync('python', { recursive: true, force: true });
    cpSync('../../python/pyroost', 'python/pyroost', {
      recursive: true,
      filter: (source: string) => !source.includes('__pycache__') && !source.endsWith('.pyc'),
    });
  },
});
