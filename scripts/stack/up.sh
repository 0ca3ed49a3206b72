#!/usr/bin/env bash
# Bring up the local stack the agent and the tests need: Docker engine, a registry on
# 127.0.0.1:5000 and the sample images. Idempotent: whatever already answers is left alone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
mkdir -p "$STACK_DIR"

install_missing() {
  local missing=()
  [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
  [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx wget || missing+=(busybox-static)
  command -v curl >/dev/null || missing+=(curl)
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

install_missing
start_engine
start_registry
bash "$ROOT_DIR/scripts/images/build-samples.sh"
log "stack is up: engine $("$DOCKER_BIN" version --format '{{.Server.Version}}'), registry $REGISTRY_ADDR"
