#!/usr/bin/env bash
# Installs the official SDKs (npm ci from the lock file) and runs the conformance suites against a
# real `basalt serve` (built in Release by ../../test.sh). Output is TAP; the summary lines are "# pass N" / "# fail N".
set -uo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error || exit 1
fi
exec node --test --test-concurrency=1 --test-reporter=tap ./*.test.mjs
