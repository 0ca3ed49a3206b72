#!/usr/bin/env bash
# Builds and pushes the sample images the README's demo and the tests use.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../stack/env.sh"
reg="$REGISTRY_ADDR/bosun"
bash "$here/build-image.sh" "$reg/demo:1" "demo-1" "$here/demo-app.sh" >/dev/null
bash "$here/build-image.sh" "$reg/demo:2" "demo-2" "$here/demo-app.sh" >/dev/null
bash "$here/build-image.sh" "$reg/locker:1" "locker-1" "$here/locker-app.sh" >/dev/null
bash "$here/build-image.sh" "$reg/locker:2" "locker-2" "$here/locker-app.sh" >/dev/null
log "sample images pushed to $reg: demo:1 demo:2 locker:1 locker:2"
