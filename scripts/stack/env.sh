# Shared settings for the local stack scripts. Sourced, not run.
# Everything the stack creates lives under STACK_DIR so `down` can find exactly what `up` started.
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK_DIR="${BOSUN_STACK_DIR:-$ROOT_DIR/.stack}"
REGISTRY_ADDR="${BOSUN_REGISTRY:-127.0.0.1:5000}"
# Debian's client matches Debian's engine; a newer client elsewhere on PATH may insist on buildx.
DOCKER_BIN="$(command -v /usr/bin/docker || command -v docker || true)"
export DOCKER_BUILDKIT=0
# The private PostgreSQL cluster of the fleet backend's tests: data, socket and log under
# STACK_DIR/postgres, listening on 127.0.0.1:PG_PORT only.
PG_PORT="${BOSUN_PG_PORT:-55432}"
PG_DIR="$STACK_DIR/postgres"
# Where the tests find the cluster: a postgres:// URL with the test role's password (0600).
PG_URL_FILE="$PG_DIR/test-url"
log() { echo "[stack] $*" >&2; }
engine_answers() { [ -n "$DOCKER_BIN" ] && "$DOCKER_BIN" version >/dev/null 2>&1; }
registry_answers() { curl -fsS -o /dev/null "http://$REGISTRY_ADDR/v2/" 2>/dev/null; }
wait_for() { # wait_for <seconds> <description> <command...>
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then log "timed out after ${seconds}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}
pg_bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
pg_answers() { local bin; bin="$(pg_bin_dir)"; [ -n "$bin" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
