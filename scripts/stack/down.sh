#!/usr/bin/env bash
# Stop what up.sh started, and only that: the processes whose PIDs it recorded.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

stop_pid_file() { # stop_pid_file <file> <name> [signal]
  local file="$1" name="$2" signal="${3:-TERM}"
  [ -f "$file" ] || return 0
  local pid; pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -"$signal" "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$file"
}

# SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for every client to disconnect).
stop_pid_file "$STACK_DIR/postgres.pid" postgres INT
stop_pid_file "$STACK_DIR/registry.pid" registry
stop_pid_file "$STACK_DIR/dockerd.started" dockerd
