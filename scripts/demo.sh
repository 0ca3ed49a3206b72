#!/usr/bin/env bash
# bosun doing its main job, locally: brings up Docker, the registry and the sample images, builds
# bosun, and runs the agent in local mode on examples/demo-target.json until Ctrl-C. Real
# containers reach the demo release; `docker ps` shows them, the local API answers on
# 127.0.0.1:48484 (its key is in .stack/demo/identity.json).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/stack/up.sh
if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
export BOSUN_DATA_DIR="${BOSUN_DATA_DIR:-$PWD/.stack/demo}"
export BOSUN_LOCK_DIR="${BOSUN_LOCK_DIR:-$PWD/.stack/demo-locks}"
export BOSUN_TARGET_STATE_FILE="${BOSUN_TARGET_STATE_FILE:-$PWD/examples/demo-target.json}"
export BOSUN_LOG_LEVEL="${BOSUN_LOG_LEVEL:-info}"
echo "[demo] agent in local mode on $BOSUN_TARGET_STATE_FILE; Ctrl-C stops it" >&2
exec node dist/src/cli.js agent
