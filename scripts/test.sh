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
rm -f .stack/jest-fast.json .stack/jest-engine.json .stack/jest-scale.json
status=0
npm test || status=$?
# One plain closing line with the counts of every jest project, whatever happened above.
node -e 'const fs = require("node:fs");
  let passed = 0, failed = 0;
  for (const f of [".stack/jest-fast.json", ".stack/jest-engine.json", ".stack/jest-scale.json"]) {
    if (!fs.existsSync(f)) continue;
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
  }
  console.log(`${passed} passed, ${failed} failed`);'
exit "$status"
