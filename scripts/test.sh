#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine (as root) or a developer's checkout:
# brings up the Docker engine, the registry and the sample images, installs the Node packages,
# then type-checks, lints, builds and runs every jest suite (unit, integration, fleet).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/stack/up.sh
if [ ! -x node_modules/.bin/jest ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
rm -f .stack/jest-results.json
status=0
npm test || status=$?
# One plain closing line with the counts, whatever happened above.
if [ -f .stack/jest-results.json ]; then
  node -e 'const r = require("./.stack/jest-results.json");
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);'
fi
exit "$status"
