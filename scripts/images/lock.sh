#!/bin/sh
# lock take|release|status [path]: the update-lock protocol from inside a container.
# take uses `set -C` (noclobber), which makes `>` an exclusive create: it fails if the lock exists.
path="${2:-${BALENA_APP_LOCK_PATH:-/tmp/balena/updates.lock}}"
case "$1" in
  take) (set -C; : >"$path") 2>/dev/null && echo "locked $path" || { echo "busy $path"; exit 1; } ;;
  release) rm -f "$path" && echo "released $path" ;;
  status) [ -e "$path" ] || [ -L "$path" ] && echo "held $path" || echo "free $path" ;;
  *) echo "usage: lock take|release|status [path]" >&2; exit 2 ;;
esac
