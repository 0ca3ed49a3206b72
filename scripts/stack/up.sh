#!/usr/bin/env bash
# Bring up the local stack the agent and the tests need: Docker engine, a registry on
# 127.0.0.1:5000, the sample images, a private PostgreSQL cluster for the fleet backend's tests
# (127.0.0.1:55432) and chromium for the dashboard's browser tests. Idempotent: whatever already
# answers is left alone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
mkdir -p "$STACK_DIR"

install_missing() {
  local missing=()
  [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
  [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx wget || missing+=(busybox-static)
  command -v curl >/dev/null || missing+=(curl)
  [ -n "$(pg_bin_dir)" ] || missing+=(postgresql)
  # The dashboard's browser tests drive Debian's chromium (headless) with playwright-core.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The package's own service would start a second registry on every interface; we run our own.
  if pgrep -f '^/usr/bin/docker-registry serve /etc/docker-registry' >/dev/null; then
    log "note: a system docker-registry service is running; leaving it alone"
  fi
  DOCKER_BIN=/usr/bin/docker
}

start_engine() {
  if engine_answers; then log "engine already answers"; return; fi
  log "starting dockerd"
  # No bridge, no iptables: containers use network_mode none or host, and nothing here touches
  # the host's networks.
  setsid /usr/sbin/dockerd --bridge=none --iptables=false --ip-masq=false \
    --pidfile "$STACK_DIR/dockerd.pid" >"$STACK_DIR/dockerd.log" 2>&1 < /dev/null &
  echo $! >"$STACK_DIR/dockerd.started"
  wait_for 60 "the Docker engine" engine_answers || { tail -20 "$STACK_DIR/dockerd.log" >&2; exit 1; }
}

start_registry() {
  if registry_answers; then log "registry already answers on $REGISTRY_ADDR"; return; fi
  log "starting registry on $REGISTRY_ADDR"
  mkdir -p "$STACK_DIR/registry/data"
  cat >"$STACK_DIR/registry/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STACK_DIR/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
YAML
  setsid /usr/bin/docker-registry serve "$STACK_DIR/registry/config.yml" \
    >"$STACK_DIR/registry.log" 2>&1 < /dev/null &
  echo $! >"$STACK_DIR/registry.pid"
  wait_for 30 "the registry" registry_answers || { tail -20 "$STACK_DIR/registry.log" >&2; exit 1; }
}

# Runs a command as the cluster's owner: PostgreSQL refuses to run as root, so as root that is
# the `postgres` system user Debian's package creates, else the user running this script.
as_pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# The superuser reaches the cluster only through the unix socket in its run/ dir, a directory
# only the owner can enter; the tests use a role of their own, by password, over 127.0.0.1.
psql_admin() {
  as_pg_owner "$(pg_bin_dir)/psql" -h "$PG_CLUSTER_DIR/run" -p "$PG_PORT" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -qAt "$@"
}

# The cluster's own directory must be one the postgres user can reach: a checkout under a
# directory it cannot enter (root's home is 0700) keeps its cluster under /var/lib/postgresql,
# named after the stack dir so the same checkout always finds its own.
choose_pg_cluster_dir() {
  PG_CLUSTER_DIR="$PG_DIR"
  if [ "$(id -u)" -eq 0 ] && ! (cd / && runuser -u postgres -- test -x "$STACK_DIR"); then
    PG_CLUSTER_DIR="/var/lib/postgresql/bosun-stack-$(printf %s "$STACK_DIR" | sha256sum | cut -c1-12)"
  fi
}

init_postgres() {
  local bin="$1" data="$PG_CLUSTER_DIR/data"
  log "creating a PostgreSQL cluster in $data"
  mkdir -p "$PG_CLUSTER_DIR/run"
  [ "$(id -u)" -ne 0 ] || chown -R postgres: "$PG_CLUSTER_DIR"
  chmod 700 "$PG_CLUSTER_DIR" "$PG_CLUSTER_DIR/run"
  as_pg_owner "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$PG_CLUSTER_DIR/initdb.log"
  # A throwaway cluster for tests: loopback only, and no fsync (durability across a power cut is
  # not wanted here, and it makes CREATE DATABASE per test file cheap).
  cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_CLUSTER_DIR/run'
unix_socket_permissions = 0700
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
# Each test file drops its databases WITH (FORCE), which cannot end an autovacuum worker; the
# databases live for seconds, so nothing needs vacuuming.
autovacuum = off
CONF
}

start_postgres() {
  local bin; bin="$(pg_bin_dir)"
  choose_pg_cluster_dir
  mkdir -p "$PG_DIR"
  local data="$PG_CLUSTER_DIR/data"
  if pg_answers; then
    # Ours when our data dir's postmaster says it listens on this port (line 4 of its pid file).
    if [ -f "$PG_URL_FILE" ] && [ "$(sed -n 4p "$data/postmaster.pid" 2>/dev/null)" = "$PG_PORT" ]; then
      log "postgres already answers on 127.0.0.1:$PG_PORT"
      return
    fi
    log "127.0.0.1:$PG_PORT answers, but not with the cluster in $PG_DIR: set BOSUN_PG_PORT to a free port"
    exit 1
  fi
  [ -f "$data/PG_VERSION" ] || init_postgres "$bin"
  log "starting postgres on 127.0.0.1:$PG_PORT"
  as_pg_owner "$bin/pg_ctl" -D "$data" -l "$PG_CLUSTER_DIR/postgres.log" -w -t 60 start >/dev/null ||
    { tail -20 "$PG_CLUSTER_DIR/postgres.log" >&2; exit 1; }
  head -1 "$data/postmaster.pid" >"$STACK_DIR/postgres.pid"
  [ -f "$PG_URL_FILE" ] || create_test_role
}

# The tests' role may create and drop databases (one per test file); its URL goes to PG_URL_FILE.
create_test_role() {
  local password; password="$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
  local verb=CREATE
  [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'bosun_test'")" != 1 ] || verb=ALTER
  psql_admin -c "$verb ROLE bosun_test LOGIN CREATEDB PASSWORD '$password'"
  [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'bosun_test'")" = 1 ] ||
    psql_admin -c 'CREATE DATABASE bosun_test OWNER bosun_test'
  (umask 077 && echo "postgres://bosun_test:$password@127.0.0.1:$PG_PORT/bosun_test" >"$PG_URL_FILE")
}

install_missing
start_engine
start_registry
start_postgres
bash "$ROOT_DIR/scripts/images/build-samples.sh"
log "stack is up: engine $("$DOCKER_BIN" version --format '{{.Server.Version}}'), registry $REGISTRY_ADDR, postgres 127.0.0.1:$PG_PORT"
