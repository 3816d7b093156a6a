#!/usr/bin/env bash
# Installs everything pyroost needs on a fresh machine: pnpm 10 (pnpm 11
# does not run on Node 20), the workspace's npm packages, and the Python
# packages the test suite uses. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pnpm >/dev/null 2>&1 || [[ "$(pnpm --version)" != 10.* ]]; then
  npm install --global pnpm@10.34.9
fi

if [[ "${CI:-}" == "true" ]]; then
  pnpm install --frozen-lockfile
else
  pnpm install
fi

python3 -m pip install --quiet --disable-pip-version-check -r python/requirements-test.txt
